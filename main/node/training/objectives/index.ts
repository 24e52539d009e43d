// The registry of training objectives: the run loop asks here for the run's kind and knows none
// of them by name.

import type {TrainingKind} from '../../../common/training.js';
import {ptObjective, sftObjective} from './language.js';
import type {TrainingObjective} from './objective.js';
import {dpoObjective, rewardModelObjective} from './preference.js';
import {ppoObjective} from './ppo.js';

const OBJECTIVES: Readonly<Record<TrainingKind, TrainingObjective>> = {
  sft: sftObjective,
  pt: ptObjective,
  rm: rewardModelObjective,
  dpo: dpoObjective,
  ppo: ppoObjective,
};

export function objectiveFor(kind: TrainingKind): TrainingObjective {
  const objective = OBJECTIVES[kind];
  if (!objective) throw new Error(`unknown training objective ${JSON.stringify(kind)}`);
  return objective;
}

export {ObjectiveDataError, type PreparedObjective, type StepOutcome, type TrainingObjective} from './objective.js';
