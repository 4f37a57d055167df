/** `loaa/train`: the training loop, recipes, cross-validation and metrics. */
export { train, type TrainOptions, type TrainResults } from '../train/trainer.js';
export { loadRecipe, readRecipeFile, recipeFromObject, applyOverrides, type Recipe } from '../train/recipe.js';
export { runCv, type CvOptions, type CvResults } from '../train/cv.js';
export { evaluate, topKAccuracy, meanAveragePrecision, macroAuc, dPrime, type MetricReport } from '../train/metrics.js';
