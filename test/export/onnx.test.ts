import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exportModel, loadForExport } from '../../src/export/export.js';
import { verifyOnnx } from '../../src/export/verify.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const CASES = ['loaa_attn_1x3_s10', 'loaa_ffn_3x1_bias_half', 'loaa_3x3_mixed', 'adapter_1x1_both_s10', 'adapter_seq_s10', 'lora_qv_r4', 'prompt_n5', 'loaa_prompt_n3', 'bitfit', 'tinycls_loaa_3x3'];

for (const name of CASES) {
  test(`onnxruntime-node logits equal loaa's (fp32): ${name}`, async () => {
    const c = caseNamed(name);
    const { model, config } = loadForExport(adapterDir(c)!, backbonePath(c.backbone));
    try {
      const out = join(freshDir('onnx'), 'model.onnx');
      exportModel(model, config, { out });
      const r = await verifyOnnx(out, model, { inputs: 2, batch: 2 });
      assert.ok(r.ok, `max diff ${r.maxDiff} > ${r.bound}`);
      assert.ok(r.maxLogit > 0.01, 'logits are not trivially zero');
    } finally {
      model.dispose();
    }
  });
}
