//! Tianditu (天地图), the national surveying administration's online map, as an optional
//! basemap: its web-Mercator (`_w`) WMTS services, in CGCS2000, which differs from WGS84 by less
//! than a pixel, so our WGS84 layers lie on it as they are (never GCJ-02, the offset datum of
//! commercial maps). Offered only when a key is configured (`serve --tianditu-key`); the key then
//! reaches signed-in browsers in the tile URLs of `GET /api/map-config`, and the
//! Content-Security-Policy admits exactly the tile hosts below.

use std::fmt;

/// The tile hosts, `t0` to `t7`: a tile may come from any of them.
pub const HOSTS: [&str; 8] = [
    "https://t0.tianditu.gov.cn",
    "https://t1.tianditu.gov.cn",
    "https://t2.tianditu.gov.cn",
    "https://t3.tianditu.gov.cn",
    "https://t4.tianditu.gov.cn",
    "https://t5.tianditu.gov.cn",
    "https://t6.tianditu.gov.cn",
    "https://t7.tianditu.gov.cn",
];

/// The attribution shown under its tiles.
pub const ATTRIBUTION: &str = "© 天地图 Tianditu · 国家地理信息公共服务平台";

/// A Tianditu key (`tk`): letters and digits only, as issued, so it goes into a URL as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct TiandituKey(String);

impl TiandituKey {
    /// The key, checked: 1 to 64 ASCII letters and digits.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("a Tianditu key is 1 to 64 letters and digits (32 hexadecimal digits as issued)".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL templates of one `_w` service's tiles (`vec`: vector map, `cva`: its labels,
    /// `img`: imagery, `cia`: its labels), one per host, as a MapLibre raster source's `tiles`.
    pub fn tile_urls(&self, layer: &str) -> Vec<String> {
        HOSTS
            .iter()
            .map(|host| {
                format!(
                    "{host}/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}&STYLE=default&\
                     TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={}",
                    self.0
                )
            })
            .collect()
    }
}

/// Never in logs: the key is shown as its length only.
impl fmt::Debug for TiandituKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TiandituKey({} characters)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_letters_and_digits_and_goes_into_every_hosts_url() {
        assert!(TiandituKey::parse("").is_err());
        assert!(TiandituKey::parse("abc&tk=x").is_err());
        assert!(TiandituKey::parse(&"a".repeat(65)).is_err());
        let key = TiandituKey::parse(" 0123456789abcdef0123456789abcdef ").unwrap();
        assert_eq!(format!("{key:?}"), "TiandituKey(32 characters)");
        let urls = key.tile_urls("vec");
        assert_eq!(urls.len(), 8);
        assert_eq!(
            urls[3],
            "https://t3.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&\
             TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=0123456789abcdef0123456789abcdef"
        );
    }
}
