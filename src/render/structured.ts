import { stringify } from 'yaml';
import type { DoctorReport } from './report.js';

export function renderJSON(report: DoctorReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

export function renderYAML(report: DoctorReport): string {
  return stringify(report, { lineWidth: 0 });
}
