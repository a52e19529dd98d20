"""What a deployment costs: a price per GPU-hour from the machine's dated prices, and dollars per
million tokens.

- Cloud: the on-demand price per GPU-hour (power, building and staff are in it).
- Owned: the purchase price per GPU over `amortization_years` of 8,760 hours, plus the GPU's share
  of system IT power (planner.machine.cluster, the same figure as the plan's power) times the PUE
  times the price of energy. Staff, networking beyond the system and the building are not counted;
  the plan says so.

Per million tokens: the cluster's cost per hour over the tokens it serves in that hour. Each figure
charges the whole cluster to one kind of token, as a price sheet quoting only that kind would:
output tokens (the headline: what compare ranks by) and input tokens. At demand the cluster serves
the workload's requests; at capacity every unit runs at its own capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.inputs.hardware import Hardware

HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class GpuHourRate:
    usd_per_gpu_hour: float
    basis: str                     # "cloud" or "owned"
    note: str                      # where the price comes from, dated


def gpu_hour_rate(hw: Hardware, system_power_per_gpu_w: float) -> GpuHourRate | None:
    """The price of one provisioned GPU for an hour, or None when the machine has no price."""
    p = hw.price
    if p is None:
        return None
    basis = p.resolved_basis
    if basis == "cloud" and p.cloud_usd_per_gpu_hour is not None:
        where = ", ".join(x for x in (p.cloud_provider, p.cloud_date) if x)
        return GpuHourRate(p.cloud_usd_per_gpu_hour, "cloud",
                           f"cloud ${p.cloud_usd_per_gpu_hour:,.2f}/GPU-hour ({where})")
    if basis == "owned" and p.capex_usd_per_gpu is not None:
        capital = p.capex_usd_per_gpu / (p.amortization_years * HOURS_PER_YEAR)
        energy = system_power_per_gpu_w / 1e3 * p.pue * p.energy_usd_per_kwh
        where = ", ".join(x for x in (p.capex_basis, p.capex_date) if x)
        return GpuHourRate(capital + energy, "owned",
                           f"owned: ${p.capex_usd_per_gpu:,.0f}/GPU ({where}) over {p.amortization_years:g} years "
                           f"+ {system_power_per_gpu_w:,.0f} W × PUE {p.pue:g} at ${p.energy_usd_per_kwh:g}/kWh "
                           "(staff, building and network beyond the system not counted)")
    return None


def usd_per_million_tokens(usd_per_hour: float | None, tokens_per_s: float) -> float | None:
    """The cost of a million tokens when `usd_per_hour` buys `tokens_per_s` tokens every second."""
    if usd_per_hour is None or tokens_per_s <= 0:
        return None
    return usd_per_hour / (tokens_per_s * 3600) * 1e6
