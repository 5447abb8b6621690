// What a tool says may quote a line that holds a value nothing has unsealed
// yet (a token pasted into .env, quoted in Compose's error about it): before
// such a line is printed, every long run of token characters is masked.

/** Every run of 20 or more token characters (letters, digits, `_`, `-`) as `<masked>`. */
export const maskLongRuns = (text: string): string => text.replace(/[A-Za-z0-9_-]{20,}/g, '<masked>');
