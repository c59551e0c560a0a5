import { systemClock } from '../clock.js';
import { StatsTokenError, StatsTokenFile } from '../metrics/statsToken.js';
import { InputFileError } from './usage.js';

/** `--stats-token-file FILE` of `kpa run` and `kpa activator`: the file read and checked now, an unusable one an InputFileError naming it. */
export function statsTokenOption(file: string | undefined): StatsTokenFile | undefined {
  if (file === undefined) return undefined;
  try {
    return new StatsTokenFile(file, systemClock);
  } catch (err) {
    if (err instanceof StatsTokenError) throw new InputFileError(err.message);
    throw err;
  }
}
