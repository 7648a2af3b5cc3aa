/** What the admin endpoints answer in words (plain English, one place). */
export const ADMIN_TEXTS = {
  previewNotAnObject: "preview: send the dialog's settings as a JSON object ({hostname, port, ca, fields, …})",
  previewFailed: (why: string): string => `preview: the settings could not be checked (${why})`,
} as const;
