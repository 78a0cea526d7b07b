/**
 * Export buttons for a table on screen: the same table as an Excel workbook (XLSX) or a CSV file,
 * downloaded from `GET /api/exports/{table}.{format}` within the user's scope, with the headers in
 * the language the page speaks.
 */
import { exportUrl, type ExportTable } from '../api';
import { defineStrings, getLang } from '../i18n';
import { h } from './dom';

const t = defineStrings(
  'export',
  {
    label: '导出',
    xlsx: 'Excel',
    csv: 'CSV',
    xlsxTitle: '下载 {table} 的 Excel 表格（XLSX）',
    csvTitle: '下载 {table} 的 CSV 表格（Excel 可直接打开）',
  },
  {
    label: 'Export',
    xlsx: 'Excel',
    csv: 'CSV',
    xlsxTitle: 'Download {table} as an Excel workbook (XLSX)',
    csvTitle: 'Download {table} as CSV (opens in Excel)',
  },
);

/**
 * The buttons for `table` (named `title` in their tooltips), with the table's parameters, e.g.
 * `{ month: '2026-10' }`. Build them anew when the parameters or the language change.
 */
export function exportButtons(table: ExportTable, title: string, params: Record<string, string> = {}): HTMLElement {
  const lang = getLang() === 'en' ? 'en' : 'zh';
  const link = (format: 'xlsx' | 'csv') =>
    h(
      'a',
      {
        class: `rg-export-${format}`,
        href: exportUrl(table, format, lang, params),
        download: `${table}${params.month ? `-${params.month}` : ''}.${format}`,
        title: t(format === 'xlsx' ? 'xlsxTitle' : 'csvTitle', { table: title }),
        'data-table': table,
      },
      t(format),
    );
  return h('span', { class: 'rg-export', role: 'group', 'aria-label': t('label') }, h('span', null, t('label')), link('xlsx'), link('csv'));
}
