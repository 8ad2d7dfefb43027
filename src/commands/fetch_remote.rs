//! TEMP
use std::collections::BTreeMap;
use anyhow::Result;
use crate::model::Bar;
pub fn download(_ctx: &super::Ctx, _a: &crate::cli::FetchArgs, _s: crate::config::DataSource, _b: &crate::data::store::BarStore) -> Result<BTreeMap<String, Vec<Bar>>> { anyhow::bail!("todo") }
