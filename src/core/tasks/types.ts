/** The task vocabulary shared by plans, pipelines, `runTask` and the presenters. */
import type { Sampling } from './generate.js';
import type { ClassScore } from './classification.js';
import type { Detection } from './detection.js';

export type TaskName = 'image-classification' | 'object-detection' | 'sentence-embeddings' | 'text-generation' | 'zero-shot-image-classification' | 'automatic-speech-recognition';
export const TASKS: readonly TaskName[] = ['image-classification', 'object-detection', 'sentence-embeddings', 'text-generation', 'zero-shot-image-classification', 'automatic-speech-recognition'];

/** Preprocessing as the catalog describes it (catalog/models.json `preprocess`). */
export interface Preprocess {
  resize?: number;
  crop?: number;
  letterbox?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

export interface ClassificationResult {
  input: string;
  top: ClassScore[];
}

export interface DetectionResult {
  input: string;
  width: number;
  height: number;
  detections: Detection[];
  annotated?: string;
}

export interface GenerationSettings {
  maxTokens: number;
  sampling: Sampling;
  /** A system message put before each prompt when the chat template takes one. */
  system?: string;
  /** false: the prompt as given, no chat template. */
  chatTemplate: boolean;
  /** Streamed text as it is generated (the delta since the last call). */
  onText?: (delta: string, input: number) => void;
}

export interface GenerationResult {
  input: string;
  text: string;
  tokens: number;
  promptTokens: number;
  finish: 'stop' | 'length' | 'interrupted';
  tokensPerSec: number;
  prefillMs: number;
  decodeMsPerToken: number;
}

export interface ZeroShotResult {
  input: string;
  scores: { label: string; probability: number; similarity: number }[];
}

export interface TranscriptResult {
  input: string;
  text: string;
  language: string;
  tokens: number;
  seconds: number;
}

export interface EmbeddingResult {
  input: string;
  tokens: number;
  embedding: number[];
}

export type TaskResult = ClassificationResult | DetectionResult | EmbeddingResult | GenerationResult | ZeroShotResult | TranscriptResult;

export interface RunReport {
  model: { name: string; path: string };
  task: TaskName;
  /** Where the task came from: --task, the catalog entry (or embedded model), or the model's outputs. */
  taskSource: 'flag' | 'catalog' | 'inferred';
  /** Image tasks: the preprocessing every image went through (describeSpec). */
  preprocessing?: import('./preprocess.js').SpecDescription;
  device: { id: string; name: string; backend: string };
  inputs: number;
  results: TaskResult[];
  /** sentence-embeddings with several texts: cosine similarity of every pair. */
  similarity?: number[][];
  timing: { sessionMs: number; inferenceMs: number; perImageMs: number; batch: number };
  interrupted: boolean;
  /** What the user should know about the results (labels assumed from the head, a demo model's meaningless labels). */
  notices?: string[];
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}
