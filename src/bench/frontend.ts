/**
 * `loaa bench --only frontend`: loaa's front end per clip (src/bench/frontend_clips.ts) next to torchaudio's
 * (tools/bench/frontend_torchaudio.py) when a Python with torchaudio exists: here only Debian's, on
 * torch 1.13, which the result names.
 */
import { benchFrontEnd } from './frontend_clips.js';
import { runPythonJson, torchaudioPython } from './python.js';

export async function benchFrontEndSection(): Promise<Record<string, unknown>> {
  const ours = await benchFrontEnd();
  const python = torchaudioPython();
  if (!python) return { loaa: ours, torchaudio: 'not run (no Python with torchaudio found; set LOAA_TORCHAUDIO_PYTHON)' };
  const torchaudio = runPythonJson(python, 'frontend_torchaudio.py');
  const ratio = Object.fromEntries(
    Object.keys(ours)
      .filter((k) => typeof torchaudio[k] === 'number')
      .map((k) => [k, +(ours[k] / (torchaudio[k] as number)).toFixed(3)]),
  );
  return { loaa: ours, torchaudio: { python, ...torchaudio }, ratio_ms_loaa_over_torchaudio: ratio };
}
