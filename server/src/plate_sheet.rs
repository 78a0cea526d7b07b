//! The A4 sheet of a building's door plates (门牌二维码) as SVG: 15 plates a page in three columns,
//! each a QR code of the URL that opens its card in the phone view, the room (or 楼栋 for the
//! building's own plate), the standard address in Chinese and the card numbers, inside a dashed
//! line to cut along. Sizes are millimetres (the page's user unit), so it prints at size.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use rentgrid_geodata::Atlas;
use std::fmt::Write;

/// Plates on one page.
pub const PER_PAGE: usize = 15;

const PAGE_W: f64 = 210.0;
const PAGE_H: f64 = 297.0;
const MARGIN: f64 = 10.0;
const COLUMNS: usize = 3;
const ROWS: usize = PER_PAGE / COLUMNS;
const TOP: f64 = 28.0;
/// The side of a QR code, quiet zone included: at about 0.75 mm a module, phones read it from
/// an arm's length.
const QR_MM: f64 = 34.0;
const FONTS: &str = "'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei','Microsoft YaHei',SimHei,sans-serif";

/// One plate on the sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateLabel {
    /// What its QR code holds: the URL that opens its card.
    pub url: String,
    /// The room (`302室`), or `楼栋` for the building's own plate.
    pub title: String,
    /// The standard address (标准地址).
    pub address: String,
    /// The card numbers (一户一卡), if any.
    pub cards: Vec<String>,
}

/// The standard address (标准地址) of a building, or of a room in it: district, street, the
/// building's door-plate address, the room.
pub fn standard_address(atlas: &Atlas, building: u32, room: Option<&str>) -> String {
    let mut s = atlas.district().name.clone();
    if let Some(b) = atlas.building(building) {
        if let Some(street) = atlas.grid(b.grid_id).and_then(|g| atlas.streets().get(g.street)) {
            s.push_str(&street.street.name);
        }
        s.push_str(&b.address);
    }
    if let Some(r) = room {
        s.push_str(&room_name(r));
    }
    s
}

/// A unit's label as a room: `302` → `302室`; a label that names its own kind stays as it is.
pub fn room_name(label: &str) -> String {
    let label = label.trim();
    if label.ends_with(['室', '房', '号', '间', '户']) { label.to_owned() } else { format!("{label}室") }
}

/// Escapes text for XML.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// About how wide `s` is at font size 1 (a Chinese character a full em, others about half).
fn ems(s: &str) -> f64 {
    s.chars().map(|c| if c.is_ascii() { 0.56 } else { 1.0 }).sum()
}

/// A `<text>` centred at `x`, its size shrunk so that it fits `width`.
fn text(out: &mut String, x: f64, y: f64, size: f64, width: f64, weight: &str, s: &str) {
    let size = size.min(width / ems(s).max(1.0));
    let _ = write!(
        out,
        r#"<text x="{x:.2}" y="{y:.2}" font-size="{size:.2}" font-weight="{weight}" text-anchor="middle">{}</text>"#,
        xml(s)
    );
}

/// One A4 page (from 1) of `plates` under `heading`, as an SVG document. Fails only if a URL is
/// too long for a QR code.
pub fn page(
    heading: &str,
    printed_on: &str,
    plates: &[PlateLabel],
    page: usize,
) -> Result<String, qrcode::types::QrError> {
    let pages = plates.len().div_ceil(PER_PAGE).max(1);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r##"<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{PAGE_W}mm" height="{PAGE_H}mm" viewBox="0 0 {PAGE_W} {PAGE_H}" font-family="{FONTS}"><rect width="{PAGE_W}" height="{PAGE_H}" fill="#fff"/>"##
    );
    let inner = PAGE_W - 2.0 * MARGIN;
    text(&mut out, PAGE_W / 2.0, 17.0, 5.0, inner, "bold", heading);
    let sub = format!("门牌二维码 Door plates · 第 {page}/{pages} 页 · 打印于 {printed_on} · 手机扫码打开户卡");
    text(&mut out, PAGE_W / 2.0, 23.5, 3.0, inner, "normal", &sub);
    let cell_w = inner / COLUMNS as f64;
    let cell_h = (PAGE_H - MARGIN - TOP) / ROWS as f64;
    let first = (page.max(1) - 1) * PER_PAGE;
    for (i, p) in plates.iter().skip(first).take(PER_PAGE).enumerate() {
        let (x, y) = (MARGIN + (i % COLUMNS) as f64 * cell_w, TOP + (i / COLUMNS) as f64 * cell_h);
        let _ = write!(
            out,
            r##"<rect x="{x:.2}" y="{y:.2}" width="{cell_w:.2}" height="{cell_h:.2}" fill="none" stroke="#999" stroke-width="0.2" stroke-dasharray="1.5 1"/>"##
        );
        let code = QrCode::with_error_correction_level(p.url.as_bytes(), EcLevel::M)?;
        let modules = code.width() + 8;
        let qr = code.render::<svg::Color<'_>>().quiet_zone(true).module_dimensions(1, 1).build();
        let qr = qr.find("<svg").map_or(qr.as_str(), |at| &qr[at..]);
        let cx = x + cell_w / 2.0;
        let _ = write!(
            out,
            r#"<g transform="translate({:.3} {:.3}) scale({:.5})">{qr}</g>"#,
            cx - QR_MM / 2.0,
            y + 2.5,
            QR_MM / modules as f64
        );
        let width = cell_w - 4.0;
        let below = y + 2.5 + QR_MM;
        text(&mut out, cx, below + 5.0, 4.5, width, "bold", &p.title);
        text(&mut out, cx, below + 9.5, 2.8, width, "normal", &p.address);
        if !p.cards.is_empty() {
            text(&mut out, cx, below + 13.0, 2.6, width, "normal", &format!("户卡 {}", p.cards.join(" ")));
        }
    }
    out.push_str("</svg>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_and_text_are_written_safely() {
        assert_eq!(room_name("302"), "302室");
        assert_eq!(room_name(" 3-302室"), "3-302室");
        assert_eq!(xml(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
    }

    #[test]
    fn a_page_holds_its_share_of_the_plates() {
        let plate = |i: usize| PlateLabel {
            url: format!("http://127.0.0.1:8080/?view=field&plate={i:032}"),
            title: format!("{i}室"),
            address: "海曙区<测试>街道".into(),
            cards: vec![format!("HS{i:08}")],
        };
        let plates: Vec<PlateLabel> = (0..20).map(plate).collect();
        let first = page("楼栋", "2026-12-04", &plates, 1).unwrap_or_default();
        let second = page("楼栋", "2026-12-04", &plates, 2).unwrap_or_default();
        assert_eq!(first.matches("<g transform").count(), PER_PAGE);
        assert_eq!(second.matches("<g transform").count(), 20 - PER_PAGE);
        assert!(first.contains("第 1/2 页") && first.contains("&lt;测试&gt;") && !first.contains("<测试>"));
        assert!(!first.contains("<?xml version=\"1.0\" standalone"), "the codes' own XML declarations are cut");
    }
}
