/** The live picture's paths (docs/picture.md): served without a token with --picture-public. */
export const PICTURE_PATHS = ['/', '/picture.json', '/events'] as const;
