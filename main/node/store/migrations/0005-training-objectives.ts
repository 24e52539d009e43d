// Training objectives beyond SFT (reward model, DPO): a run's data may come from annotation
// projects (their people and adjudications are provenance), it may start from an adapter, and
// each objective reports metrics of its own (accuracy, margins, log-probs …) beside the loss. A run
// whose result is its best checkpoint can be switched to its last step and back (result_step).
export const sql = /* sql */ `
ALTER TABLE training_runs ADD COLUMN sources TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(sources));
ALTER TABLE training_runs ADD COLUMN init_adapter TEXT;
ALTER TABLE training_runs ADD COLUMN result_step TEXT NOT NULL DEFAULT 'best' CHECK (result_step IN ('best', 'last'));
ALTER TABLE training_metrics ADD COLUMN objective_values TEXT CHECK (objective_values IS NULL OR json_valid(objective_values));
`;
