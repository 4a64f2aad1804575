import { InitialCatalog1764000000000 } from './1764000000000-initial-catalog.js';
import { RowVersions1764100000000 } from './1764100000000-row-versions.js';
import { Gateways1764200000000 } from './1764200000000-gateways.js';

/** Every migration, oldest first. Add new ones at the end; never edit a released one. */
export const MIGRATIONS = [InitialCatalog1764000000000, RowVersions1764100000000, Gateways1764200000000];
