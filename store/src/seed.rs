//! Saving a whole city into an empty store, in one transaction.

use crate::backend::Tx;
use crate::names::{community_kind_str, street_kind_str};
use crate::sql::{Bulk, Sql};
use crate::value::Value;
use crate::{Progress, Result, StoreError};
use rentgrid_geodata::City;

/// The tables a city fills whose ids the city gives.
const EXPLICIT_IDS: [&str; 2] = ["rental_units", "visits"];

/// Saves `city` (the store must be empty); `origin` is kept as metadata.
pub(crate) async fn save_city(tx: &mut Tx<'_>, city: &City, origin: &str, progress: Progress<'_>) -> Result<()> {
    // One writer at a time, and a second seed sees the first one's district.
    tx.lock_tables("districts").await?;
    let n = tx.fetch_one(Sql::new("SELECT COUNT(*) AS n FROM districts")).await?.int("n")?;
    if n > 0 {
        return Err(StoreError::NotEmpty);
    }
    tx.execute(Sql::new("INSERT INTO meta (key, value) VALUES ('origin', ").bind(origin).push(")")).await?;
    let d = &city.district;
    tx.execute(Sql::new("INSERT INTO districts (code, name, outline) ").values([vec![
        d.code.as_str().into(),
        d.name.as_str().into(),
        geo::Geometry::from(d.outline.clone()).into(),
    ]]))
    .await?;
    macro_rules! bulk {
        ($table:literal, [$($col:literal),*], $rows:expr, $label:literal, |$x:pat_param| [$($v:expr),* $(,)?]) => {{
            let rows = $rows;
            let b = Bulk { table: $table, columns: &[$($col),*], tail: "" };
            tx.bulk(&b, &rows[..], &|$x| vec![$(Value::from($v)),*], $label, progress).await?;
        }};
    }
    let streets: Vec<_> = city.streets.iter().enumerate().collect();
    bulk!("streets", ["code", "name", "kind", "seq"], streets, "streets", |&(i, s)| [
        &s.code,
        &s.name,
        street_kind_str(s.kind),
        i as i64
    ]);
    let comms: Vec<_> = city.communities.iter().enumerate().collect();
    bulk!("communities", ["code", "name", "street_code", "kind", "seq"], comms, "communities", |&(i, x)| [
        &x.code,
        &x.name,
        &x.street_code,
        community_kind_str(x.kind),
        i as i64
    ]);
    bulk!("grids", ["id", "code", "name", "community_code", "geom"], &city.grids, "grids", |g| [
        g.id,
        &g.code,
        &g.name,
        &g.community_code,
        geo::Geometry::from(g.geometry.clone())
    ]);
    bulk!("blocks", ["id", "grid_id", "geom"], &city.blocks, "blocks", |x| [
        x.id,
        x.grid_id,
        geo::Geometry::from(x.geometry.clone())
    ]);
    bulk!("roads", ["id", "from_node", "to_node", "class", "length_m", "geom"], &city.roads, "roads", |r| [
        r.id,
        r.from_node,
        r.to_node,
        r.class.as_str(),
        r.length_m,
        geo::Geometry::from(r.line.clone())
    ]);
    bulk!(
        "buildings",
        [
            "id",
            "external_id",
            "grid_id",
            "kind",
            "address",
            "floors",
            "dwellings",
            "utility_accounts",
            "point",
            "footprint"
        ],
        &city.buildings,
        "buildings",
        |x| [
            x.id,
            &x.external_id,
            x.grid_id,
            x.kind.as_str(),
            &x.address,
            x.floors,
            x.dwellings,
            x.utility_accounts,
            geo::Geometry::from(x.point),
            geo::Geometry::from(x.footprint.clone())
        ]
    );
    bulk!("landlords", ["id", "name", "id_number", "phone"], &city.landlords, "landlords", |l| [
        l.id,
        &l.name,
        &l.id_number,
        &l.phone
    ]);
    bulk!(
        "rental_units",
        [
            "id",
            "external_id",
            "building_id",
            "landlord_id",
            "label",
            "registered",
            "registered_on",
            "pledge_signed",
            "tenants",
            "mode",
            "concentrated"
        ],
        &city.rental_units,
        "rental units",
        |u| [
            u.id,
            u.id.to_string(),
            u.building_id,
            u.landlord_id,
            &u.label,
            u.registered,
            u.registered_on,
            u.pledge_signed,
            u.tenants,
            u.mode.as_str(),
            u.concentrated
        ]
    );
    bulk!("households", ["id", "rental_unit_id", "card_no"], &city.households, "households", |h| [
        h.id,
        h.rental_unit_id,
        &h.card_no
    ]);
    bulk!(
        "workplaces",
        [
            "id",
            "name",
            "building_id",
            "grid_id",
            "point",
            "employees",
            "migrant_workers",
            "responsibility_signed",
            "contracts_signed",
            "insured"
        ],
        &city.workplaces,
        "workplaces",
        |w| [
            w.id,
            &w.name,
            w.building_id,
            w.grid_id,
            geo::Geometry::from(w.point),
            w.employees,
            w.migrant_workers,
            w.responsibility_signed,
            w.contracts_signed,
            w.insured
        ]
    );
    bulk!(
        "persons",
        [
            "id",
            "household_id",
            "building_id",
            "name",
            "id_number",
            "phone",
            "registered",
            "registered_on",
            "permit",
            "consistent",
            "workplace_id"
        ],
        &city.persons,
        "persons",
        |p| [
            p.id,
            p.household_id,
            p.building_id,
            &p.name,
            &p.id_number,
            &p.phone,
            p.registered,
            p.registered_on,
            p.permit,
            p.consistent,
            p.workplace_id
        ]
    );
    bulk!("caseworkers", ["id", "name", "street_code"], &city.caseworkers, "caseworkers", |w| [
        w.id,
        &w.name,
        &w.street_code
    ]);
    let contracts: Vec<(u32, u32)> =
        city.caseworkers.iter().flat_map(|w| w.grids.iter().map(move |&g| (w.id, g))).collect();
    bulk!("caseworker_grids", ["caseworker_id", "grid_id"], contracts, "contracts", |&(w, g)| [w, g]);
    bulk!(
        "visits",
        [
            "id",
            "client_id",
            "building_id",
            "caseworker_id",
            "visited_on",
            "units_registered",
            "pledges_signed",
            "units_found",
            "persons_found",
            "notes"
        ],
        &city.visits,
        "visits",
        |v| [
            v.id,
            &v.client_id,
            v.building_id,
            v.caseworker_id,
            v.visited_on,
            v.units_registered,
            v.pledges_signed,
            v.units_found,
            v.persons_found,
            &v.notes
        ]
    );
    bulk!(
        "spot_checks",
        [
            "id",
            "caseworker_id",
            "grid_id",
            "checked_on",
            "households_checked",
            "missed_registration",
            "missed_permit",
            "wrong_records"
        ],
        &city.spot_checks,
        "spot checks",
        |s| [
            s.id,
            s.caseworker_id,
            s.grid_id,
            s.checked_on,
            s.households_checked,
            s.missed_registration,
            s.missed_permit,
            s.wrong_records
        ]
    );
    bulk!("tips", ["id", "building_id", "received_on", "text"], &city.tips, "tips", |t| [
        t.id,
        t.building_id,
        t.received_on,
        &t.text
    ]);
    bulk!("demo_hidden", ["building_id", "units", "persons"], &city.hidden, "ground truth", |h| [
        h.building_id,
        h.units,
        h.persons
    ]);
    for table in EXPLICIT_IDS {
        if let Some(q) = tx.db.after_explicit_ids(table) {
            tx.execute(q).await?;
        }
    }
    Ok(())
}
