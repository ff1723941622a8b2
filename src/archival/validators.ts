import { z } from "@hono/zod-openapi";
import { idString } from "../videos/validators";

export const days = z.number().int().min(0, "must be 0 or more").max(36_500, "must be at most 36500");
const category = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lower-case letters, digits, _ and -, up to 64");

export const DestructiveInput = z
  .object({ dry_run: z.boolean().default(false), confirm: z.boolean().default(false) })
  .strict()
  .openapi("ArchivalDestructiveInput", { example: { dry_run: true, confirm: false } });

export const ArchiveConversationsInput = DestructiveInput.extend({
  older_than_days: days.optional().openapi({ description: "Defaults to RETENTION_ARCHIVE_DAYS (30)" }),
})
  .strict()
  .openapi("ArchiveConversationsInput", { example: { older_than_days: 30, dry_run: true, confirm: false } });

const overrides = {
  archive_days: days.optional(),
  delete_days: days.optional(),
  delete_days_by_category: z
    .record(category, days)
    .refine((value) => Object.keys(value).length <= 64, "at most 64 categories")
    .optional(),
  optimize: z.boolean().optional(),
};

export const ApplyPoliciesInput = DestructiveInput.extend(overrides)
  .strict()
  .openapi("ApplyPoliciesInput", {
    example: { archive_days: 30, delete_days: 7, delete_days_by_category: { surveillance: 2 }, dry_run: true, confirm: false },
  });

export const StatusQuery = z.object({
  archive_days: z.coerce.number().pipe(days).optional(),
  delete_days: z.coerce.number().pipe(days).optional(),
});

export const IdParam = z.object({ id: idString });

export const ArchivedQuery = z.object({
  video_id: idString.optional(),
  id: idString.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const DeletedQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});

export const toOverrides = (body: {
  archive_days?: number;
  delete_days?: number;
  delete_days_by_category?: Record<string, number>;
  optimize?: boolean;
}) => ({
  archiveDays: body.archive_days,
  deleteDays: body.delete_days,
  deleteDaysByCategory: body.delete_days_by_category,
  optimize: body.optimize,
});
