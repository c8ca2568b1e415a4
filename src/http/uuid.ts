// The one spelling of a UUID, for the checks that no route schema makes: ids inside cursors, a
// path segment read before routing, the names of upload files.

/** In either case, as the API accepts ids. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Lower case only: the names of files the service made itself from randomUUID(). */
export const LOWERCASE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
