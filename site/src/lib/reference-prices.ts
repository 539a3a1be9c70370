// The cloud price the home page compares against: a published list price copied by hand, as it
// stood in `listedAs`. This build machine is offline, so it was not re-read here; re-check it
// on the source page before a release and update `listedAs` with the date it was read.
export const CLOUD_REFERENCE = {
  provider: "AWS",
  instance: "EC2 r7i.large",
  detail: "On-Demand, Linux, US East (N. Virginia)",
  usdPerHour: 0.1323,
  memoryGiB: 16,
  vcpus: 2,
  source: "https://aws.amazon.com/ec2/pricing/on-demand/",
  listedAs: "June 2024",
} as const;

/** Whole-instance price divided by its memory: an upper bound for memory alone, since it also buys vCPUs. */
export const CLOUD_USD_PER_GB_HOUR = CLOUD_REFERENCE.usdPerHour / CLOUD_REFERENCE.memoryGiB;

/** Used only when the live network has no price to show yet, and labelled as an example. */
export const EXAMPLE_PRICE_PER_GB_SEC = 0.0000008;
