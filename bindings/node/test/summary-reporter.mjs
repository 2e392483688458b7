/*
 * summary-reporter.mjs - a node:test reporter that prints one closing line,
 * "N passed, N failed, N skipped", which CI recognises in any language.
 */
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for await (const event of source) {
    /* Count leaf tests only: a test with subtests reports its own pass too. */
    if (event.type === 'test:pass' && event.data.details?.type !== 'suite') {
      if (event.data.skip || event.data.todo)
        skipped++;
      else
        passed++;
    } else if (event.type === 'test:fail' && event.data.details?.type !== 'suite') {
      failed++;
    }
  }
  yield `${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
