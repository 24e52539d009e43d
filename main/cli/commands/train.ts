// `zhongjing train`: the training job CLI (main/node/training/cli-train.ts), with dataset names
// resolved through the store: a dataset version is frozen and written once as the job's input.

import {forkEngine} from '../../node/engine/fork-engine.js';
import {Services} from '../../node/services/index.js';
import {trainCommand as runTrainCommand} from '../../node/training/cli-train.js';

export async function trainCommand(argv: string[]): Promise<void> {
  const result = await runTrainCommand(argv, {
    resolveDataset: async (name, dataDir) => {
      const services = new Services({dataDir, spawnEngine: forkEngine});
      try {
        const {train, validation} = await services.training.datasetFiles(services.datasets.resolve(name).id);
        return {train, validation};
      } finally {
        await services.close();
      }
    },
  });
  if (result.status === 'failed') process.exitCode = 1;
}
