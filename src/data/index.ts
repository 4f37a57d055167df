// The dataset readers' public surface (loaders on worker threads live beside them, not here).
export * from './types.js';
export { foldNames, foldTrainTest } from './folds.js';
export { readEsc50, ESC50_SAMPLE_RATE, type Esc50Options } from './esc50.js';
export {
  readSpeechCommands,
  SPEECH_COMMANDS_SAMPLE_RATE,
  SPEECH_COMMANDS_WORDS_12,
  UNKNOWN_WORD,
  SILENCE,
  type SpeechCommandsOptions,
} from './speech_commands.js';
export { readEpicSounds, EPIC_SOUNDS_CLASSES, EPIC_SOUNDS_FILES, EPIC_SOUNDS_SAMPLE_RATE, type EpicSoundsOptions } from './epic_sounds.js';
export { readFsdd, FSDD_SAMPLE_RATE, type FsddOptions } from './fsdd.js';
export { readFolderDataset, AUDIO_EXTENSIONS, SPLIT_DIR_NAMES, type FolderOptions } from './folder.js';
export { readCsvManifest, type CsvManifestOptions } from './csv_manifest.js';
export { readAstJson, type AstJsonOptions } from './ast_json.js';
export { readLabelFile } from './label_file.js';
export { wavInfo, type WavInfo } from './wav_info.js';
export { openDataset, type DatasetSpec, type DatasetType } from './open.js';
