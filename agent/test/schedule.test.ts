import { describe, expect, it } from "vitest";
import { isIdle, parseIdleSchedule, ScheduleError } from "../src/schedule.ts";

/** A local time today: the schedule is the owner's wall clock. */
function at(h: number, m = 0): Date {
  const d = new Date(2025, 0, 15, h, m, 0);
  return d;
}

describe("idle schedule parser", () => {
  it('"always" offers at every hour', () => {
    const s = parseIdleSchedule("always");
    expect(s.kind).toBe("always");
    for (let h = 0; h < 24; h++) expect(isIdle(s, at(h))).toBe(true);
    expect(parseIdleSchedule("  Always ").kind).toBe("always");
  });

  it('"never" offers at no hour', () => {
    const s = parseIdleSchedule("never");
    for (let h = 0; h < 24; h++) expect(isIdle(s, at(h))).toBe(false);
  });

  it('"9am-5pm, 11pm-7am": the day window and the one across midnight', () => {
    const s = parseIdleSchedule("9am-5pm, 11pm-7am");
    expect(s).toEqual({
      kind: "windows",
      text: "9am-5pm, 11pm-7am",
      windows: [
        { start: 9 * 60, end: 17 * 60 },
        { start: 23 * 60, end: 7 * 60 },
      ],
    });
    // start inclusive, end exclusive
    expect(isIdle(s, at(9, 0))).toBe(true);
    expect(isIdle(s, at(8, 59))).toBe(false);
    expect(isIdle(s, at(16, 59))).toBe(true);
    expect(isIdle(s, at(17, 0))).toBe(false);
    expect(isIdle(s, at(22, 59))).toBe(false);
    expect(isIdle(s, at(23, 0))).toBe(true);
    expect(isIdle(s, at(0, 0))).toBe(true);
    expect(isIdle(s, at(3, 30))).toBe(true);
    expect(isIdle(s, at(6, 59))).toBe(true);
    expect(isIdle(s, at(7, 0))).toBe(false);
    expect(isIdle(s, at(8, 0))).toBe(false);
  });

  it("a single window across midnight", () => {
    const s = parseIdleSchedule("10pm-6am");
    expect(isIdle(s, at(21, 59))).toBe(false);
    expect(isIdle(s, at(22, 0))).toBe(true);
    expect(isIdle(s, at(23, 59))).toBe(true);
    expect(isIdle(s, at(0, 1))).toBe(true);
    expect(isIdle(s, at(5, 59))).toBe(true);
    expect(isIdle(s, at(6, 0))).toBe(false);
    expect(isIdle(s, at(12, 0))).toBe(false);
  });

  it("12am is midnight, 12pm is noon, minutes and 24-hour times", () => {
    expect(parseIdleSchedule("12am-12pm")).toMatchObject({ windows: [{ start: 0, end: 12 * 60 }] });
    expect(parseIdleSchedule("12pm-12am")).toMatchObject({ windows: [{ start: 12 * 60, end: 0 }] });
    expect(parseIdleSchedule("9:30am-5:45pm")).toMatchObject({ windows: [{ start: 9 * 60 + 30, end: 17 * 60 + 45 }] });
    expect(parseIdleSchedule("18:00-24:00")).toMatchObject({ windows: [{ start: 18 * 60, end: 0 }] });
    expect(parseIdleSchedule("9 AM - 5 PM")).toMatchObject({ windows: [{ start: 9 * 60, end: 17 * 60 }] });
    const evening = parseIdleSchedule("12pm-12am");
    expect(isIdle(evening, at(23, 59))).toBe(true);
    expect(isIdle(evening, at(0, 0))).toBe(false);
  });

  it.each([
    ["", /empty/],
    ["sometimes", /not a window/],
    ["9-5", /needs am\/pm/],
    ["9am", /not a window/],
    ["9am-", /not a window/],
    ["9am-5pm-7pm", /not a window/],
    ["13pm-2pm", /1-12/],
    ["0am-2am", /1-12/],
    ["9:75am-5pm", /minutes above 59/],
    ["25:00-26:00", /not a time of day/],
    ["9am-9am", /same time/],
    ["9am-5pm,", /not a window/],
    ["nine-five", /not a time/],
  ])("rejects %j", (text, message) => {
    expect(() => parseIdleSchedule(text)).toThrow(ScheduleError);
    expect(() => parseIdleSchedule(text)).toThrow(message);
  });
});
