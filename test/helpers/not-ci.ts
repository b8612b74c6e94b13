/**
 * Imported first by tests of live terminal views: Ink (through is-in-ci) turns live rendering off when
 * CI is set, as it is on the CI machine, so such a test would see another program there. Each test file
 * runs in its own process, so this changes only the file that imports it.
 */
delete process.env['CI'];
delete process.env['CONTINUOUS_INTEGRATION'];
export {};
