/** What the admin endpoints answer in words (plain English, one place). */
export const ADMIN_TEXTS = {
  previewNotAnObject: "preview: send the dialog's settings as a JSON object ({hostname, port, ca, fields, …})",
  previewFailed: (why: string): string => `preview: the settings could not be checked (${why})`,
  flowFieldsBadBody: "fields-from-flow: send {broker, defaultInterval, fields, nodes} as a JSON object, nodes an array of the flow's nodes",
  flowFieldsFailed: (why: string): string => `fields-from-flow: the fields could not be derived (${why})`,
  usageNoBroker: (id: string): string => `usage: no deployed telemetry-broker has the id ${JSON.stringify(id)} (deploy it first)`,
} as const;
