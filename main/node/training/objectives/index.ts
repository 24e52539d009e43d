// The registry of training objectives: the run loop asks here for the run's kind and knows none
// of them by name. PPO joins as one more entry.

import type {TrainingKind} from '../../../common/training.js';
import {ptObjective, sftObjective} from './language.js';
import type {TrainingObjective} from './objective.js';
import {dpoObjective, rewardModelObjective} from './preference.js';

const OBJECTIVES: Readonly<Record<TrainingKind, TrainingObjective>> = {
  sft: sftObjective,
  pt: ptObjective,
  rm: rewardModelObjective,
  dpo: dpoObjective,
};

export function objectiveFor(kind: TrainingKind): TrainingObjective {
  const objective = OBJECTIVES[kind];
  if (!objective) throw new Error(`unknown training objective ${JSON.stringify(kind)}`);
  return objective;
}

export {ObjectiveDataError, type PreparedObjective, type TrainingObjective} from './objective.js';
