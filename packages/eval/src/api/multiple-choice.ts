/**
 * Multiple-choice tasks, after lm-evaluation-harness's `output_type: multiple_choice`: the author
 * gives documents and, per document, a context, the choices and the gold index; the helper asks
 * the model for `loglikelihood(context, continuation)` of every choice and scores `acc` (the gold
 * choice has the highest loglikelihood) and `acc_norm` (the highest loglikelihood per UTF-8 byte of
 * the continuation), both aggregated by `mean` with the analytic stderr (sample std / √n).
 */
import { ContractError, PluginError } from '../errors.ts';
import { scoreMultipleChoice } from '../metrics.ts';
import { defineTask, loglikelihood, type MetricSpec, type TaskDefinition, type TaskPlugin, type TaskRequest } from './task.ts';

/** The metrics of every multiple-choice task: `acc` and `acc_norm`, means, higher is better. */
export const MULTIPLE_CHOICE_METRICS: Readonly<Record<'acc' | 'acc_norm', MetricSpec>> = Object.freeze({
  acc: { aggregation: 'mean', higherIsBetter: true, description: 'the gold choice has the highest loglikelihood' },
  acc_norm: {
    aggregation: 'mean',
    higherIsBetter: true,
    description: 'the gold choice has the highest loglikelihood per UTF-8 byte of the choice (lm-eval acc_norm)',
  },
});

/**
 * A document that carries its own question: the helper reads these fields when the definition
 * gives no `context`, `choices` or `gold` function.
 */
export interface MultipleChoiceFields {
  /** The text every choice continues. */
  context: string;
  /** The candidate continuations, each with the separator it needs (e.g. a leading space). */
  choices: readonly string[];
  /** 0-based index of the right choice. */
  gold: number;
}

/** How to read a document's question (lm-eval's `doc_to_text`, `doc_to_choice`, `doc_to_target`). */
export interface MultipleChoiceAccessors<O, D> {
  /** The text every choice continues (lm-eval `doc_to_text`). */
  context(doc: D, options: O): string;
  /** The choices, in order (lm-eval `doc_to_choice`). */
  choices(doc: D, options: O): readonly string[];
  /** 0-based index of the right choice (lm-eval `doc_to_target`). */
  gold(doc: D, options: O): number;
}

/** The fields a multiple-choice task shares with any task; metrics, requests and score are the helper's. */
export interface MultipleChoiceTaskBase<O, D> extends Pick<TaskDefinition<O, D>, 'id' | 'version' | 'description' | 'options' | 'documents'> {
  /**
   * The continuation scored for one choice (lm-eval's `target_delimiter + choice`); default the
   * choice as written. `acc_norm` divides by the UTF-8 bytes of what this returns.
   */
  continuation?(choice: string, doc: D, options: O): string;
}

/**
 * What a multiple-choice task author writes: the accessors are optional when the documents carry
 * `context`, `choices` and `gold` themselves, and required otherwise.
 */
export type MultipleChoiceTaskDefinition<O = any, D = any> = MultipleChoiceTaskBase<O, D> &
  Partial<MultipleChoiceAccessors<O, D>> &
  ([D] extends [MultipleChoiceFields] ? unknown : Pick<MultipleChoiceAccessors<O, D>, 'context' | 'choices' | 'gold'>);

/**
 * Makes a multiple-choice task plugin: one `loglikelihood(context, continuation)` request per
 * choice, scored `{ acc, acc_norm }` with MULTIPLE_CHOICE_METRICS. Throws a PluginError naming a
 * bad field now, and a ContractError naming the task when a document's choices or gold are bad.
 */
export function defineMultipleChoiceTask<O = Record<string, never>, D = MultipleChoiceFields>(def: MultipleChoiceTaskDefinition<O, D>): TaskPlugin<O, D> {
  const where = `defineMultipleChoiceTask({ id: ${JSON.stringify((def as { id?: unknown })?.id)} })`;
  const d = def as MultipleChoiceTaskBase<O, D> & Partial<MultipleChoiceAccessors<O, D>>;
  for (const field of ['context', 'choices', 'gold', 'continuation'] as const) {
    if (d[field] !== undefined && typeof d[field] !== 'function') {
      throw new PluginError(where, field, `must be a function of the document (got ${typeof d[field]})`);
    }
  }
  const fields = (doc: D): MultipleChoiceFields => doc as unknown as MultipleChoiceFields;
  const contextOf = d.context ?? ((doc: D) => fields(doc).context);
  const choicesOf = d.choices ?? ((doc: D) => fields(doc).choices);
  const goldOf = d.gold ?? ((doc: D) => fields(doc).gold);
  const continuationOf = d.continuation ?? ((choice: string) => choice);

  /** The continuations of a document's choices and its gold index, checked. */
  const question = (doc: D, options: O): { context: string; continuations: string[]; gold: number } => {
    const context = contextOf(doc, options);
    const choices = choicesOf(doc, options);
    const gold = goldOf(doc, options);
    if (typeof context !== 'string') throw new ContractError(`task '${def.id}': a document's context is ${typeof context}, not a string`, 'return the prompt text from `context(doc)` (or set doc.context)');
    if (!Array.isArray(choices) || choices.length === 0 || !choices.every((c) => typeof c === 'string')) {
      throw new ContractError(`task '${def.id}': a document's choices are not a non-empty array of strings (got ${JSON.stringify(choices)})`, 'return the choices from `choices(doc)` (or set doc.choices)');
    }
    if (!Number.isInteger(gold) || gold < 0 || gold >= choices.length) {
      throw new ContractError(`task '${def.id}': gold ${JSON.stringify(gold)} is not an index of the ${choices.length} choices`, 'gold is the 0-based index of the right choice');
    }
    return { context, continuations: choices.map((c) => continuationOf(c, doc, options)), gold };
  };

  return defineTask<O, D>({
    id: def.id,
    version: def.version,
    description: def.description,
    ...(def.options !== undefined && { options: def.options }),
    metrics: MULTIPLE_CHOICE_METRICS,
    documents: def.documents,
    requests: (doc, options): TaskRequest[] => {
      const q = question(doc, options);
      return q.continuations.map((c) => loglikelihood(q.context, c));
    },
    score: (doc, responses, options) => {
      const q = question(doc, options);
      return scoreMultipleChoice(responses, q.continuations, q.gold);
    },
  });
}
