// The curated list of chat GGUFs the model manager offers, and the "does it fit this machine"
// hint. Pure data and arithmetic (shared with the renderer). Every repository and file below was
// checked to exist on Hugging Face when it was listed; sizes are the file sizes shown there
// (decimal GB), so a hint is an estimate, never a promise.

export interface CatalogEntry {
  /** `hf:owner/repo/file.gguf`, what the download takes */
  source: string;
  repo: string;
  file: string;
  family: 'general' | 'medical';
  name: string;
  parameters: string;
  quantization: string;
  sizeBytes: number;
  note: {zh: string; en: string};
}

const GB = 1e9;

function entry(repo: string, file: string, rest: Omit<CatalogEntry, 'source' | 'repo' | 'file'>): CatalogEntry {
  return {source: `hf:${repo}/${file}`, repo, file, ...rest};
}

export const MODEL_CATALOG: readonly CatalogEntry[] = [
  entry('bartowski/Qwen2.5-0.5B-Instruct-GGUF', 'Qwen2.5-0.5B-Instruct-Q4_K_M.gguf', {
    family: 'general', name: 'Qwen2.5 0.5B Instruct', parameters: '0.5B', quantization: 'Q4_K_M', sizeBytes: 397_808_192,
    note: {zh: '最小最快，适合试用与低配电脑；医学回答质量有限。', en: 'Smallest and fastest, for trying things out on modest machines; limited medical quality.'},
  }),
  entry('bartowski/Qwen2.5-1.5B-Instruct-GGUF', 'Qwen2.5-1.5B-Instruct-Q4_K_M.gguf', {
    family: 'general', name: 'Qwen2.5 1.5B Instruct', parameters: '1.5B', quantization: 'Q4_K_M', sizeBytes: 0.986 * GB,
    note: {zh: '中文通用对话，适合作为 SFT 的基座（与论文规模接近的小模型）。', en: 'General Chinese chat; a good small base for SFT.'},
  }),
  entry('bartowski/Qwen2.5-1.5B-Instruct-GGUF', 'Qwen2.5-1.5B-Instruct-Q8_0.gguf', {
    family: 'general', name: 'Qwen2.5 1.5B Instruct', parameters: '1.5B', quantization: 'Q8_0', sizeBytes: 1.65 * GB,
    note: {zh: '8 位量化，精度更高，训练时可用作基座。', en: '8-bit: closer to the original weights; a trainable base.'},
  }),
  entry('bartowski/Qwen2.5-3B-Instruct-GGUF', 'Qwen2.5-3B-Instruct-Q4_K_M.gguf', {
    family: 'general', name: 'Qwen2.5 3B Instruct', parameters: '3B', quantization: 'Q4_K_M', sizeBytes: 1.93 * GB,
    note: {zh: '质量与速度的折中，8 GB 内存的电脑可用。', en: 'Balance of quality and speed; usable with 8 GB of memory.'},
  }),
  entry('bartowski/Qwen2.5-7B-Instruct-GGUF', 'Qwen2.5-7B-Instruct-Q4_K_M.gguf', {
    family: 'general', name: 'Qwen2.5 7B Instruct', parameters: '7B', quantization: 'Q4_K_M', sizeBytes: 4.68 * GB,
    note: {zh: '中文通用对话质量最好的一档，建议 16 GB 内存或 6 GB 以上显存。', en: 'Best general Chinese chat of this list; 16 GB memory or 6 GB+ VRAM advised.'},
  }),
  entry('mradermacher/HuatuoGPT2-7B-GGUF', 'HuatuoGPT2-7B.Q4_K_M.gguf', {
    family: 'medical', name: 'HuatuoGPT2 7B', parameters: '7B', quantization: 'Q4_K_M', sizeBytes: 4.61 * GB,
    note: {zh: '华佗GPT2（香港中文大学（深圳）），中文医学对话模型的社区量化版。', en: 'HuatuoGPT2 (CUHK-Shenzhen), a Chinese medical chat model; community quantisation.'},
  }),
  entry('bartowski/HuatuoGPT-o1-7B-v0.1-GGUF', 'HuatuoGPT-o1-7B-v0.1-IQ4_XS.gguf', {
    family: 'medical', name: 'HuatuoGPT-o1 7B', parameters: '7B', quantization: 'IQ4_XS', sizeBytes: 4.22 * GB,
    note: {zh: '医学推理模型（中英文，先推理后作答），回答较长。', en: 'Medical reasoning model (Chinese and English; thinks before answering), long replies.'},
  }),
];

export interface MachineMemory {
  totalMemoryBytes: number;
  /** total VRAM of the GPU the engine uses, when known (the engine has started on a GPU) */
  vramBytes: number | null;
  gpu: string | null;
}

export type FitHint = 'gpu' | 'memory' | 'tight' | 'too-large';

/** Memory a GGUF needs to chat: its weights plus ~20 % and 0.5 GB for the context and buffers. */
export function memoryNeeded(sizeBytes: number): number {
  return Math.round(sizeBytes * 1.2 + 0.5 * GB);
}

/** 'gpu': all layers fit in VRAM; 'memory': fits in RAM with room for the system (≤ 70 %);
 * 'tight': fits in RAM only by taking most of it; 'too-large': more than the machine has. */
export function fitHint(sizeBytes: number, machine: MachineMemory): FitHint {
  const need = memoryNeeded(sizeBytes);
  if (machine.vramBytes !== null && need <= machine.vramBytes) return 'gpu';
  if (need <= machine.totalMemoryBytes * 0.7) return 'memory';
  if (need <= machine.totalMemoryBytes) return 'tight';
  return 'too-large';
}
