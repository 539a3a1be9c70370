/**
 * The owner's idle schedule: when this machine's memory may be rented out.
 *
 * Syntax: `"always"`, `"never"`, or comma-separated windows `start-end` where a time is
 * `9am`, `9:30pm`, `12am` (midnight), `12pm` (noon) or 24-hour `17:00` / `17`. A window whose end
 * is earlier than its start runs across midnight (`11pm-7am`). Times are the machine's local time,
 * because the owner thinks of "my working day" on their own clock.
 */

/** Minutes since local midnight, [start, end). `end <= start` means the window crosses midnight. */
export interface IdleWindow {
  start: number;
  end: number;
}

export type IdleSchedule = { kind: "always" } | { kind: "never" } | { kind: "windows"; windows: IdleWindow[]; text: string };

export class ScheduleError extends Error {
  override name = "ScheduleError";
}

const TIME = /^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$/i;

function parseTime(raw: string, whole: string): number {
  const m = TIME.exec(raw.trim());
  if (!m) throw new ScheduleError(`"${raw.trim()}" in "${whole}" is not a time (use 9am, 9:30pm or 17:00)`);
  let hour = Number(m[1]);
  const minute = m[2] === undefined ? 0 : Number(m[2]);
  const meridiem = m[3]?.toLowerCase();
  if (minute > 59) throw new ScheduleError(`"${raw.trim()}" in "${whole}" has minutes above 59`);
  if (meridiem) {
    if (hour < 1 || hour > 12) throw new ScheduleError(`"${raw.trim()}" in "${whole}": with am/pm the hour must be 1-12`);
    hour = (hour % 12) + (meridiem === "pm" ? 12 : 0);
  } else if (m[2] === undefined) {
    // A bare number like "9" is ambiguous between 9am and 9pm; make the owner say which.
    throw new ScheduleError(`"${raw.trim()}" in "${whole}" needs am/pm or minutes (9am or 09:00)`);
  } else if (hour > 24 || (hour === 24 && minute !== 0)) {
    throw new ScheduleError(`"${raw.trim()}" in "${whole}" is not a time of day`);
  }
  return (hour * 60 + minute) % (24 * 60);
}

export function parseIdleSchedule(text: string): IdleSchedule {
  const whole = text.trim();
  const lower = whole.toLowerCase();
  if (lower === "always" || lower === "24/7") return { kind: "always" };
  if (lower === "never") return { kind: "never" };
  if (whole === "") throw new ScheduleError(`the idle schedule is empty (use "always" or windows like "9am-5pm, 11pm-7am")`);
  const windows = whole.split(",").map((part) => {
    const bounds = part.split("-");
    if (bounds.length !== 2 || bounds[0].trim() === "" || bounds[1].trim() === "") {
      throw new ScheduleError(`"${part.trim()}" in "${whole}" is not a window like 9am-5pm`);
    }
    const start = parseTime(bounds[0], whole);
    const end = parseTime(bounds[1], whole);
    if (start === end)
      throw new ScheduleError(`"${part.trim()}" in "${whole}" starts and ends at the same time (use "always" for all day)`);
    return { start, end };
  });
  return { kind: "windows", windows, text: whole };
}

function inWindow(w: IdleWindow, minute: number): boolean {
  return w.start < w.end ? minute >= w.start && minute < w.end : minute >= w.start || minute < w.end;
}

/** Whether the memory may be offered at `now` (local time). */
export function isIdle(schedule: IdleSchedule, now: Date = new Date()): boolean {
  if (schedule.kind === "always") return true;
  if (schedule.kind === "never") return false;
  const minute = now.getHours() * 60 + now.getMinutes();
  return schedule.windows.some((w) => inWindow(w, minute));
}

export function describeSchedule(schedule: IdleSchedule): string {
  if (schedule.kind === "always") return "always";
  if (schedule.kind === "never") return "never";
  return schedule.text;
}
