/**
 * The shape every text reader has, so the I/O edge (cluster/record-source.ts) drives them
 * alike: it splits input into lines and pushes them one by one; a reader hands back a raw
 * record (still to be validated by parseUsageRecord) once one is complete. Readers are pure
 * and keep no more state than a CSV record spanning lines needs.
 */
export interface LineReader {
  /** True while a record is open across lines (a quoted CSV field holding a line break). */
  readonly pending: boolean;
  /**
   * One line without its line break. Returns the raw record it completes, or undefined when
   * the record goes on. Throws InvalidRecordError for a malformed record; the reader is then
   * ready for the next record.
   */
  push(line: string, lineNo: number): unknown;
  /**
   * Drops the record that starts with the line `head` (the splitter rejects it: over the size
   * limit, or a quoted field still open at the end of the input), whether or not any of it was
   * pushed.
   */
  reset(head: string): void;
}
