// CSV files on disk (Node): the parser is in csv.ts, which browsers can bundle (parseCsv on fetched text).
import { readBoundedText, INPUT_LIMITS } from '../store/read_bounded.js';
import { CsvError, CsvOptions, CsvTable, parseCsv } from './csv.js';

/** A CSV file's text, read under INPUT_LIMITS.csv; every problem is a CsvError naming the file. */
export function readCsvText(path: string): Promise<string> {
  return readBoundedText(path, {
    maxBytes: INPUT_LIMITS.csv, expected: 'a CSV file with a header row', error: (m) => new CsvError(m),
    openError: (e) => new CsvError(`${path}: cannot read (${e.code ?? e.message}; expected a CSV file with a header row)`),
  });
}

export async function loadCsv(path: string, o: CsvOptions): Promise<CsvTable> {
  return parseCsv(await readCsvText(path), o, path);
}
