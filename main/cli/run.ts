// Process entry of the CLI (bin/zhongjing.js imports the compiled index.js and calls main).
import {main} from './index.js';

await main(process.argv.slice(2));
