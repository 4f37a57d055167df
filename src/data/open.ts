import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readAstJson, type AstJsonOptions } from './ast_json.js';
import { readCsvManifest, type CsvManifestOptions } from './csv_manifest.js';
import { readEpicSounds, type EpicSoundsOptions } from './epic_sounds.js';
import { readEsc50, type Esc50Options } from './esc50.js';
import { readFolderDataset, type FolderOptions } from './folder.js';
import { readFsdd, type FsddOptions } from './fsdd.js';
import { readSpeechCommands, type SpeechCommandsOptions } from './speech_commands.js';
import type { Dataset } from './types.js';

export type DatasetSpec =
  | ({ type: 'esc50'; root: string } & Esc50Options)
  | ({ type: 'speechcommands'; root: string } & SpeechCommandsOptions)
  | ({ type: 'epic'; root: string } & EpicSoundsOptions)
  | ({ type: 'fsdd'; root: string } & FsddOptions)
  | ({ type: 'folder'; root: string } & FolderOptions)
  /** `root`: the manifest CSV, or a folder holding `manifest` (default `manifest.csv`). */
  | ({ type: 'csv'; root: string; manifest?: string } & CsvManifestOptions)
  | ({ type: 'ast-json'; root: string } & AstJsonOptions);

export type DatasetType = DatasetSpec['type'];

const COMMON = ['type', 'root', 'skipMissing', 'verifyFiles'];
const OPTIONS: Record<DatasetType, string[]> = {
  esc50: ['esc10', 'meta', 'audioDir'],
  speechcommands: ['classes', 'silenceFraction', 'unknownFraction'],
  epic: ['train', 'validation', 'test', 'hdf5', 'labels', 'numClasses'],
  fsdd: ['validation'],
  folder: ['extensions', 'labels'],
  csv: ['manifest', 'labels', 'multiLabel', 'labelSeparator'],
  'ast-json': ['splits', 'labelsCsv', 'multiLabel'],
};
/** Other spellings users write (recipes, the papers' names). */
const ALIASES: Record<string, { type: DatasetType; extra?: Record<string, unknown> }> = {
  'esc-50': { type: 'esc50' },
  esc10: { type: 'esc50', extra: { esc10: true } },
  'esc-10': { type: 'esc50', extra: { esc10: true } },
  'speech-commands': { type: 'speechcommands' },
  speechcommandsv2: { type: 'speechcommands' },
  'epic-sounds': { type: 'epic' },
  epicsounds: { type: 'epic' },
  astjson: { type: 'ast-json' },
  manifest: { type: 'csv' },
};

/** Reads a dataset from a spec (as written in a recipe); unknown types and options are errors. */
export function openDataset(spec: DatasetSpec | Record<string, unknown>): Dataset {
  if (!spec || typeof spec !== 'object') throw new Error('dataset: expected an object {type, root, ...}');
  const raw = spec as Record<string, unknown>;
  const given = String(raw.type ?? '');
  const alias = ALIASES[given.toLowerCase()];
  const type = (alias?.type ?? given.toLowerCase()) as DatasetType;
  if (!(type in OPTIONS)) {
    throw new Error(`dataset.type: unknown dataset type '${given}' (known: ${Object.keys(OPTIONS).join(', ')})`);
  }
  if (typeof raw.root !== 'string' || raw.root === '') throw new Error(`dataset.root: a path is required for ${type}`);
  const known = new Set([...COMMON, ...OPTIONS[type]]);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new Error(`dataset.${unknown[0]}: unknown option for ${type} (known: ${[...known].filter((k) => k !== 'type').join(', ')})`);
  }
  const { root, ...rest } = { ...raw, ...alias?.extra } as { root: string } & Record<string, unknown>;
  delete rest.type;
  switch (type) {
    case 'esc50':
      return readEsc50(root, rest as Esc50Options);
    case 'speechcommands':
      return readSpeechCommands(root, normaliseClasses(rest) as SpeechCommandsOptions);
    case 'epic':
      return readEpicSounds(root, rest as EpicSoundsOptions);
    case 'fsdd':
      return readFsdd(root, rest as FsddOptions);
    case 'folder':
      return readFolderDataset(root, rest as FolderOptions);
    case 'csv': {
      const { manifest, ...opts } = rest as { manifest?: string } & CsvManifestOptions;
      const isDir = existsSync(root) && statSync(root).isDirectory();
      return readCsvManifest(isDir ? join(root, manifest ?? 'manifest.csv') : root, opts);
    }
    case 'ast-json':
      return readAstJson(root, rest as AstJsonOptions);
  }
}

/** YAML/CLI values arrive as strings: accept `classes: "12"`. */
function normaliseClasses(o: Record<string, unknown>): Record<string, unknown> {
  return typeof o.classes === 'string' && /^\d+$/.test(o.classes) ? { ...o, classes: Number(o.classes) } : o;
}
