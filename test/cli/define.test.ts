import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineCommand, parseCommandArgs, helpText } from '../../src/cli/define.js';
import { UsageError } from '../../src/cli/command.js';
import { closest } from '../../src/util/suggest.js';
import { main } from '../../src/cli/main.js';

const FLAGS = {
  out: { type: 'string', value: 'DIR', default: 'runs', help: 'where to write' },
  epochs: { type: 'int', min: 1, max: 100, help: 'epochs' },
  mean: { type: 'number', help: 'a mean' },
  tag: { type: 'list', help: 'a tag' },
  mode: { type: 'string', choices: ['a', 'b'], help: 'a mode' },
  quick: { type: 'boolean', help: 'fast' },
} as const;

const parse = (argv: string[]) => parseCommandArgs(argv, FLAGS, 'x');
const usage = (argv: string[], re: RegExp) =>
  assert.throws(
    () => parse(argv),
    (e: Error) => e instanceof UsageError && re.test(e.message),
    argv.join(' '),
  );

test('--flag value and --flag=value mean the same; defaults, lists, negative numbers, positionals', () => {
  const a = parse(['in.wav', '--epochs', '3', '--mean', '-6.5', '--tag', 't1', '--tag=t2', '--quick']);
  const b = parse(['--epochs=3', 'in.wav', '--mean=-6.5', '--tag=t1', '--tag', 't2', '--quick']);
  assert.deepEqual(a.flags, b.flags);
  assert.deepEqual(a.flags, {
    out: 'runs',
    epochs: 3,
    mean: -6.5,
    tag: ['t1', 't2'],
    mode: undefined,
    quick: true,
    json: false,
    help: false,
  });
  assert.deepEqual(a.positionals, ['in.wav']);
  assert.ok(a.given.has('epochs') && !a.given.has('out'));
});

test('usage errors: missing values, unknown flags (with a suggestion), repeats, types and ranges', () => {
  usage(['--out'], /^--out: missing value$/);
  usage(['--out', '--quick'], /^--out: missing value$/);
  usage(['--epoch', '3'], /^--epoch: unknown option \(did you mean --epochs\?\)/);
  usage(['--zzz'], /^--zzz: unknown option \(see loaa x --help\)$/);
  usage(['--out', 'a', '--out', 'b'], /^--out: given more than once/);
  usage(['--epochs', 'x'], /^--epochs: expected an integer in \[1, 100\], got "x"/);
  usage(['--epochs=0'], /^--epochs: expected an integer in \[1, 100\]/);
  usage(['--mode', 'c'], /^--mode: expected one of a, b, got "c"/);
  usage(['--quick=yes'], /--quick/);
});

test('help is generated from the flag table; the command runs with typed values', async () => {
  const cmd = defineCommand({
    name: 'x',
    usage: '<in> [--out DIR]',
    flags: FLAGS,
    examples: ['loaa x a.wav'],
    run: async ({ flags }) => (flags.epochs ?? 0) + 1,
  });
  assert.match(cmd.help, /^usage: loaa x <in> \[--out DIR\]/);
  assert.match(cmd.help, /--out DIR +where to write \(default runs\)/);
  assert.match(cmd.help, /--tag VALUE +a tag \(repeatable\)/);
  assert.match(cmd.help, /-h, --help/);
  assert.match(cmd.help, /examples:\n {2}loaa x a\.wav/);
  assert.equal(helpText({ name: 'y', usage: '', flags: {}, json: false, run: async () => 0 }).includes('--json'), false);
  assert.equal(await cmd.run(['--epochs', '4']), 5);
});

test('did you mean: near typos only', () => {
  assert.equal(closest('dmeo', ['demo', 'train', 'eval']), 'demo');
  assert.equal(closest('trian', ['demo', 'train']), 'train');
  assert.equal(closest('zzzzzz', ['demo', 'train']), undefined);
});

test('loaa help <command> prints its help; an unknown command exits 2 with a suggestion', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (s: string) => void out.push(s);
  console.error = (s: string) => void err.push(s);
  try {
    assert.equal(await main(['help', 'params']), 0);
    assert.equal(await main(['parms']), 2);
  } finally {
    [console.log, console.error] = [log, error];
  }
  assert.match(out.join('\n'), /usage: loaa params/);
  assert.match(err.join('\n'), /unknown command "parms" \(did you mean "params"\?\)/);
});
