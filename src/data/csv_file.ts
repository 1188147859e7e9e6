// CSV files on disk (Node): the parser is in csv.ts, which browsers can bundle (parseCsv on fetched text).
import { readFile } from 'node:fs/promises';
import { CsvError, CsvOptions, CsvTable, parseCsv } from './csv.js';

export async function loadCsv(path: string, o: CsvOptions): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CsvError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; expected a CSV file with a header row)`);
  }
  return parseCsv(text, o, path);
}
