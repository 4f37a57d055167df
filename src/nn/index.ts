export { Module, countParameters } from './module.js';
export { Linear, Conv2d, LayerNorm, Dropout } from './layers.js';
