// Every schema change is one numbered file here, appended to this list, never edited after it
// ships. The list position + 1 is the schema version stored in PRAGMA user_version.
import {sql as initial} from './0001-initial.js';
import {sql as datasets} from './0002-datasets.js';
import {sql as annotation} from './0003-annotation.js';
import {sql as training} from './0004-training.js';
import {sql as trainingObjectives} from './0005-training-objectives.js';
import {sql as annotationDrafts} from './0006-annotation-drafts.js';
import {sql as remoteEndpoints} from './0007-remote-endpoints.js';
import {sql as evaluation} from './0008-evaluation.js';
import {sql as consultationCompare} from './0009-consultation-compare.js';

export const migrations: readonly {name: string; sql: string}[] = [
  {name: '0001-initial', sql: initial},
  {name: '0002-datasets', sql: datasets},
  {name: '0003-annotation', sql: annotation},
  {name: '0004-training', sql: training},
  {name: '0005-training-objectives', sql: trainingObjectives},
  {name: '0006-annotation-drafts', sql: annotationDrafts},
  {name: '0007-remote-endpoints', sql: remoteEndpoints},
  {name: '0008-evaluation', sql: evaluation},
  {name: '0009-consultation-compare', sql: consultationCompare},
];
