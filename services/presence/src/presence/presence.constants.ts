/** Nest injection tokens of the presence service. */
export const PRESENCE_SETTINGS = Symbol('PRESENCE_SETTINGS');
export const CLOCK = Symbol('CLOCK');
