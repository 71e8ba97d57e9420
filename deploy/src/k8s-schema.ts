// Kubernetes manifests against the Kubernetes API's OpenAPI schemas, as packaged by
// kubernetes-models (types, enums, required fields, quantities; like the API server, it does
// not reject unknown fields, which our own checks cover for the fields that matter).
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import type { Problem } from './problem.js';

interface Validating {
  validate(): void;
}
type ModelClass = new (data: never) => Validating;

const MODELS: Record<string, ModelClass> = {
  'batch/v1/Job': Job as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
};

export function validateK8sSchema(docs: readonly Record<string, unknown>[], file: string): Problem[] {
  const problems: Problem[] = [];
  for (const doc of docs) {
    const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
    const Model = MODELS[key];
    if (!Model) {
      problems.push({
        file,
        rule: 'k8s-schema',
        message: `${key}: no schema here for this kind (known: ${Object.keys(MODELS).join(', ')})`,
      });
      continue;
    }
    try {
      new Model(doc as never).validate();
    } catch (error) {
      const name = String((doc['metadata'] as Record<string, unknown> | undefined)?.['name'] ?? '?');
      for (const message of String((error as Error).message).split(/, (?=data\/)/)) {
        problems.push({ file, rule: 'k8s-schema', message: `${key} ${name}: ${message.replace(/^data\//, '')}` });
      }
    }
  }
  return problems;
}
