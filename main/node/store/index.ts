import {openDatabase, type Db} from './database.js';
import {ModelsRepo} from './models-repo.js';
import {ConsultationsRepo} from './consultations-repo.js';
import {SettingsRepo} from './settings-repo.js';
import {DownloadsRepo} from './downloads-repo.js';
import {DatasetsRepo} from './datasets-repo.js';
import {AnnotationRepo} from './annotation-repo.js';
import {TrainingRepo} from './training-repo.js';
import {RemotesRepo} from './remotes-repo.js';
import {EvaluationRepo} from './evaluation-repo.js';

/** The store: one SQLite file, one writer (this process), a repository per area. */
export class Store {
  readonly models: ModelsRepo;
  readonly consultations: ConsultationsRepo;
  readonly settings: SettingsRepo;
  readonly downloads: DownloadsRepo;
  readonly datasets: DatasetsRepo;
  readonly annotation: AnnotationRepo;
  readonly training: TrainingRepo;
  readonly remotes: RemotesRepo;
  readonly evaluation: EvaluationRepo;

  constructor(readonly db: Db) {
    this.models = new ModelsRepo(db);
    this.consultations = new ConsultationsRepo(db);
    this.settings = new SettingsRepo(db);
    this.downloads = new DownloadsRepo(db);
    this.datasets = new DatasetsRepo(db);
    this.annotation = new AnnotationRepo(db);
    this.training = new TrainingRepo(db);
    this.remotes = new RemotesRepo(db);
    this.evaluation = new EvaluationRepo(db);
  }

  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
