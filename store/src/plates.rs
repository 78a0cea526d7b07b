//! Door plates (门牌二维码): every building and rental unit can carry a plate whose QR code holds
//! an opaque token. A token is the HMAC-SHA256 of the plate's kind, its id and its generation
//! under a secret key kept in the store (made at the first print, never answered), cut to
//! [`TOKEN_BYTES`] and written in base32: it names no row, and one cannot be made without the
//! key. Printing a building's sheet issues the plates it lacks (one audited transaction) and
//! gives the same tokens again until one is revoked; a revoked plate's reprint is the next
//! generation, a new token. Resolving looks the token up and checks it against the key.
//!
//! ```
//! use rentgrid_store::{DoorPlates, Store};
//! // Anything that keeps the register keeps its door plates.
//! fn plates(store: &dyn Store) -> &dyn DoorPlates { store }
//! ```

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the HMAC a token keeps: 160 bits, far beyond guessing, in 32 base32 characters.
pub const TOKEN_BYTES: usize = 20;
/// Characters of a token.
pub const TOKEN_CHARS: usize = TOKEN_BYTES * 8 / 5;

/// What a plate is fixed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateKind {
    /// A building (楼栋): its entrance.
    Building,
    /// A rental unit (出租房屋): its door.
    Unit,
}

impl PlateKind {
    /// The name the store and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            PlateKind::Building => "building",
            PlateKind::Unit => "unit",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "building" => Some(PlateKind::Building),
            "unit" => Some(PlateKind::Unit),
            _ => None,
        }
    }
}

/// A plate as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorPlate {
    /// What it is fixed to.
    pub kind: PlateKind,
    /// The building's or the rental unit's id.
    pub target: u32,
    /// The building it is in (itself for a building's plate).
    pub building_id: u32,
    /// Its generation: 1 for the first plate of a target, one more for each reprint after a
    /// revocation.
    pub generation: u32,
    /// The token its QR code carries.
    pub token: String,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A rental unit as its plate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitLabel {
    /// Its id.
    pub id: u32,
    /// Its label (room number).
    pub label: String,
    /// The card numbers of its households (一户一卡), in order.
    pub card_nos: Vec<String>,
}

/// A rental unit on a building's sheet, with its live plate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateUnit {
    /// The unit.
    pub unit: UnitLabel,
    /// Its live plate.
    pub plate: DoorPlate,
}

/// A building's sheet: its own plate and one per rental unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildingPlates {
    /// The building's plate.
    pub building: DoorPlate,
    /// Its rental units with their plates, by label and id.
    pub units: Vec<PlateUnit>,
    /// How many of these plates this print issued (0 on a reprint with nothing new or revoked).
    pub issued: u32,
}

/// Door plates in the store.
#[async_trait]
pub trait DoorPlates: Send + Sync {
    /// The live plates of building `building` and of each of its rental units, issuing at `at`
    /// those it lacks; `event` (the print) is audited in the same transaction, naming what was
    /// issued. [`StoreError::NotFound`] for an unknown building.
    async fn building_plates(&self, building: u32, at: &str, event: &AuditEvent) -> Result<BuildingPlates>;
    /// The plate holding `token`, revoked or not, if this store issued it (checked against the
    /// key); `None` for anything else.
    async fn plate(&self, token: &str) -> Result<Option<DoorPlate>>;
    /// Revokes the live plate holding `token` at `at`, auditing `event` in the same transaction;
    /// [`StoreError::NotFound`] if there is none, [`StoreError::Conflict`] if it was revoked.
    async fn revoke_plate(&self, token: &str, at: &str, event: &AuditEvent) -> Result<DoorPlate>;
    /// The rental units of building `building`, by label and id, as their plates name them.
    async fn building_units(&self, building: u32) -> Result<Vec<UnitLabel>>;
}

/// The statements reading a building's units and their households' cards.
fn units_sql(building: u32) -> (Sql, Sql) {
    let units =
        Sql::new("SELECT id, label FROM rental_units WHERE building_id = ").bind(building).push(" ORDER BY label, id");
    let cards = Sql::new(
        "SELECT h.rental_unit_id AS unit_id, h.card_no FROM households h \
         JOIN rental_units u ON u.id = h.rental_unit_id WHERE u.building_id = ",
    )
    .bind(building)
    .push(" ORDER BY h.card_no");
    (units, cards)
}

/// The units of [`units_sql`]'s rows.
fn units_of(units: &[Row], cards: &[Row]) -> Result<Vec<UnitLabel>> {
    units
        .iter()
        .map(|u| {
            let id = u.u32("id")?;
            let card_nos = cards
                .iter()
                .filter(|c| c.u32("unit_id").is_ok_and(|u| u == id))
                .map(|c| c.text("card_no"))
                .collect::<Result<_>>()?;
            Ok(UnitLabel { id, label: u.text("label")?, card_nos })
        })
        .collect()
}

type HmacSha256 = Hmac<Sha256>;

/// What the HMAC of a plate is computed over.
fn message(kind: PlateKind, target: u32, generation: u32) -> String {
    format!("rentgrid door plate\n{}\n{target}\n{generation}", kind.as_str())
}

fn mac(key: &[u8], kind: PlateKind, target: u32, generation: u32) -> Result<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(key).map_err(|e| corrupt_key(e.to_string()))?;
    m.update(message(kind, target, generation).as_bytes());
    Ok(m)
}

/// The token of a plate under `key`.
pub fn token(key: &[u8], kind: PlateKind, target: u32, generation: u32) -> Result<String> {
    let tag = mac(key, kind, target, generation)?.finalize().into_bytes();
    Ok(data_encoding::BASE32_NOPAD.encode(&tag[..TOKEN_BYTES]))
}

/// True when `token` is the token of that plate under `key`, compared in constant time.
pub fn verify(key: &[u8], kind: PlateKind, target: u32, generation: u32, token: &str) -> Result<bool> {
    let Some(tag) = decode(token) else { return Ok(false) };
    Ok(mac(key, kind, target, generation)?.verify_truncated_left(&tag).is_ok())
}

/// The bytes of a well-formed token (exactly [`TOKEN_CHARS`] upper-case base32 characters).
fn decode(token: &str) -> Option<Vec<u8>> {
    if token.len() != TOKEN_CHARS {
        return None;
    }
    data_encoding::BASE32_NOPAD.decode(token.as_bytes()).ok().filter(|b| b.len() == TOKEN_BYTES)
}

/// True when `token` has the form of a token (it may still be unknown).
pub fn well_formed(token: &str) -> bool {
    decode(token).is_some()
}

fn corrupt_key(reason: String) -> StoreError {
    StoreError::Corrupt { what: "door_plate_key", id: "1".into(), reason }
}

fn key_of(hex: &str) -> Result<Vec<u8>> {
    let key = data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).map_err(|e| corrupt_key(e.to_string()))?;
    if key.len() != 32 {
        return Err(corrupt_key(format!("{} bytes, not 32", key.len())));
    }
    Ok(key)
}

/// The key, made (32 random bytes) if the store has none yet. Runs in a writing transaction.
async fn key_or_new(tx: &mut Tx<'_>) -> Result<Vec<u8>> {
    let fresh: [u8; 32] = rand::random();
    tx.execute(
        Sql::new("INSERT INTO door_plate_key (id, key) VALUES (1, ")
            .bind(data_encoding::HEXLOWER.encode(&fresh))
            .push(") ON CONFLICT (id) DO NOTHING"),
    )
    .await?;
    key_of(&tx.fetch_one(Sql::new("SELECT key FROM door_plate_key WHERE id = 1")).await?.text("key")?)
}

const PLATE_COLUMNS: &str = "kind, target_id, generation, token, issued_at, revoked_at";

fn plate_of(r: &Row, building_id: u32) -> Result<DoorPlate> {
    let (kind, token) = (r.text("kind")?, r.text("token")?);
    Ok(DoorPlate {
        kind: PlateKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
            what: "door_plates",
            id: token.clone(),
            reason: format!("kind {kind:?}"),
        })?,
        target: r.u32("target_id")?,
        building_id,
        generation: r.u32("generation")?,
        token,
        issued_at: r.text("issued_at")?,
        revoked_at: r.opt_text("revoked_at")?,
    })
}

/// The live plate of a target, issuing it (the next generation) if it has none. Answers it and
/// whether it was issued now.
async fn live_or_issue(
    tx: &mut Tx<'_>,
    key: &[u8],
    kind: PlateKind,
    target: u32,
    building_id: u32,
    at: &str,
) -> Result<(DoorPlate, bool)> {
    let rows = tx
        .fetch(
            Sql::new(format!("SELECT {PLATE_COLUMNS} FROM door_plates WHERE kind = "))
                .bind(kind.as_str())
                .push(" AND target_id = ")
                .bind(target)
                .push(" ORDER BY generation DESC"),
        )
        .await?;
    if let Some(live) = rows.first().filter(|r| matches!(r.opt_text("revoked_at"), Ok(None))) {
        return Ok((plate_of(live, building_id)?, false));
    }
    let generation = match rows.first() {
        Some(r) => r.u32("generation")? + 1,
        None => 1,
    };
    let token = token(key, kind, target, generation)?;
    tx.execute(Sql::new("INSERT INTO door_plates (token, kind, target_id, generation, issued_at) ").values([vec![
        token.clone().into(),
        kind.as_str().into(),
        target.into(),
        generation.into(),
        at.into(),
    ]]))
    .await?;
    let plate = DoorPlate { kind, target, building_id, generation, token, issued_at: at.to_owned(), revoked_at: None };
    Ok((plate, true))
}

/// The stored plate holding `token` with its building, without checking the key.
async fn stored(db: &dyn Backend, token: &str) -> Result<Option<DoorPlate>> {
    let rows =
        db.fetch(Sql::new(format!("SELECT {PLATE_COLUMNS} FROM door_plates WHERE token = ")).bind(token)).await?;
    let Some(r) = rows.first() else { return Ok(None) };
    let target = r.u32("target_id")?;
    let building = match r.text("kind")?.as_str() {
        "unit" => {
            let q = Sql::new("SELECT building_id FROM rental_units WHERE id = ").bind(target);
            db.fetch(q).await?.first().map(|b| b.u32("building_id")).transpose()?
        }
        _ => Some(target),
    };
    // A plate of a unit no longer in the register opens nothing.
    building.map(|b| plate_of(r, b)).transpose()
}

#[async_trait]
impl<B: Backend> DoorPlates for SqlStore<B> {
    async fn building_plates(&self, building: u32, at: &str, event: &AuditEvent) -> Result<BuildingPlates> {
        let mut tx = audit::begin(&self.db).await?;
        if tx.fetch_optional(Sql::new("SELECT id FROM buildings WHERE id = ").bind(building)).await?.is_none() {
            return Err(StoreError::NotFound { what: "building", id: building.to_string() });
        }
        let key = key_or_new(&mut tx).await?;
        let (plate, new) = live_or_issue(&mut tx, &key, PlateKind::Building, building, building, at).await?;
        let mut issued = u32::from(new);
        let (units, cards) = units_sql(building);
        let (units, cards) = (tx.fetch(units).await?, tx.fetch(cards).await?);
        let mut out = Vec::with_capacity(units.len());
        for unit in units_of(&units, &cards)? {
            let (plate, new) = live_or_issue(&mut tx, &key, PlateKind::Unit, unit.id, building, at).await?;
            issued += u32::from(new);
            out.push(PlateUnit { unit, plate });
        }
        audit::append(&mut tx, &event.clone().naming(format!("plates {} issued {issued}", out.len() + 1))).await?;
        tx.commit().await?;
        Ok(BuildingPlates { building: plate, units: out, issued })
    }

    async fn plate(&self, token: &str) -> Result<Option<DoorPlate>> {
        if !well_formed(token) {
            return Ok(None);
        }
        let Some(plate) = stored(&self.db, token).await? else { return Ok(None) };
        let rows = self.db.fetch(Sql::new("SELECT key FROM door_plate_key WHERE id = 1")).await?;
        let Some(k) = rows.first() else { return Ok(None) };
        let key = key_of(&k.text("key")?)?;
        // A row the key did not make (written into the table by hand) opens nothing.
        Ok(verify(&key, plate.kind, plate.target, plate.generation, token)?.then_some(plate))
    }

    async fn revoke_plate(&self, token: &str, at: &str, event: &AuditEvent) -> Result<DoorPlate> {
        let not_found = || StoreError::NotFound { what: "door plate", id: token.to_owned() };
        let plate = self.plate(token).await?.ok_or_else(not_found)?;
        let mut tx = audit::begin(&self.db).await?;
        let changed = tx
            .execute(
                Sql::new("UPDATE door_plates SET revoked_at = ")
                    .bind(at)
                    .push(" WHERE token = ")
                    .bind(token)
                    .push(" AND revoked_at IS NULL"),
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "this door plate was revoked already ({})",
                plate.revoked_at.as_deref().unwrap_or("just now")
            )));
        }
        audit::append(
            &mut tx,
            &event.clone().naming(format!("{} {} plate {}", plate.kind.as_str(), plate.target, plate.generation)),
        )
        .await?;
        tx.commit().await?;
        Ok(DoorPlate { revoked_at: Some(at.to_owned()), ..plate })
    }

    async fn building_units(&self, building: u32) -> Result<Vec<UnitLabel>> {
        let (units, cards) = units_sql(building);
        units_of(&self.db.fetch(units).await?, &self.db.fetch(cards).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_token_names_no_id_and_opens_only_its_own_plate() {
        let t = token(&KEY, PlateKind::Unit, 412, 1).unwrap_or_default();
        assert_eq!(t.len(), TOKEN_CHARS);
        assert!(well_formed(&t) && !t.contains("412"), "{t}");
        assert!(verify(&KEY, PlateKind::Unit, 412, 1, &t).unwrap_or(false));
        // Another kind, id, generation or key: another token.
        for (kind, id, generation, key) in [
            (PlateKind::Building, 412, 1, KEY),
            (PlateKind::Unit, 413, 1, KEY),
            (PlateKind::Unit, 412, 2, KEY),
            (PlateKind::Unit, 412, 1, [8; 32]),
        ] {
            assert!(!verify(&key, kind, id, generation, &t).unwrap_or(true), "{kind:?} {id} {generation}");
        }
        // One character changed, or the case changed, or cut short: refused.
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(b).unwrap_or_default();
            assert!(!verify(&KEY, PlateKind::Unit, 412, 1, &changed).unwrap_or(true), "{changed}");
        }
        assert!(!well_formed(&t.to_lowercase()) && !well_formed(&t[1..]));
    }

    /// Fuzz target (issue 18): a token is any text, or a real token with random edits (a
    /// forgery). Checking one never panics, a well-formed one is 32 base32 characters, and none
    /// opens a plate but that plate's own token. Seeds in `store/fuzz/corpus/plate_tokens/`.
    #[test]
    fn fuzz_plate_tokens() {
        use rentgrid_geodata::fuzzing::{Count, Edit, corpus, mutate, run_corpus};
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/plate_tokens");
        let count = Count::new("plate_tokens");
        let real = token(&KEY, PlateKind::Unit, 412, 1).unwrap_or_default();
        let check = |kind: PlateKind, target: u32, generation: u32, candidate: &str| {
            count.add();
            let own = token(&KEY, kind, target, generation).unwrap_or_default();
            if well_formed(candidate) {
                assert!(
                    candidate.len() == TOKEN_CHARS
                        && candidate.bytes().all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))
                );
            }
            let opens = verify(&KEY, kind, target, generation, candidate).unwrap_or(true);
            assert_eq!(opens, candidate == own, "{candidate:?} against {kind:?} {target} {generation}");
        };
        run_corpus("plate_tokens", &corpus(&dir), |b| {
            let text = String::from_utf8_lossy(b);
            check(PlateKind::Unit, 412, 1, text.trim_end_matches('\n'));
        });
        let words: &[&[u8]] = &[b"=", b"A", b"7", b"8", b"a", b"0", b"1"];
        bolero::check!().with_type::<(bool, u32, u32, Vec<Edit>)>().with_iterations(3000).for_each(
            |(unit, target, generation, edits)| {
                let kind = if *unit { PlateKind::Unit } else { PlateKind::Building };
                let own = token(&KEY, kind, *target, *generation).unwrap_or_default();
                for seed in [&own, &real] {
                    let forged = String::from_utf8_lossy(&mutate(seed.as_bytes(), edits, words)).into_owned();
                    check(kind, *target, *generation, &forged);
                }
            },
        );
    }

    #[test]
    fn the_hmac_is_rfc_4231s() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap_or_else(|_| unreachable!());
        m.update(b"what do ya want for nothing?");
        let hex = data_encoding::HEXLOWER.encode(&m.finalize().into_bytes());
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
