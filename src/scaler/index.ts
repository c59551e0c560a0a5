export { type ActivityState, applyBounds, RevisionScaler, type ScalerInput, type ScalerOutput } from './revisionScaler.js';
export { ACTIVATION_TIMEOUT_BUFFER_SECONDS, DEFAULT_PROGRESS_DEADLINE_SECONDS, type ScalerSpec, scalerSpecFor } from './spec.js';
