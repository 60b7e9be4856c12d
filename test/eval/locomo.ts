/**
 * Reading the LoCoMo benchmark (Maharana et al., 2024): conversations of dialog turns, and
 * questions whose evidence is a list of turn ids. The data file is never copied into the project.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const Turn = z.object({
  speaker: z.string(),
  dia_id: z.string(),
  text: z.string(),
  blip_caption: z.string().optional(),
});

const Qa = z.object({
  question: z.string(),
  evidence: z.array(z.string()).default([]),
  category: z.number().int(),
});

const Conversation = z.object({
  sample_id: z.string(),
  conversation: z.record(z.string(), z.unknown()),
  qa: z.array(Qa),
});

export interface LocomoTurn {
  conversation: string;
  session: number;
  /** YYYY-MM-DD of the session. */
  date: string;
  time: string;
  speaker: string;
  diaId: string;
  text: string;
  /** The caption of the photo the turn shared, if it shared one. */
  image: string | null;
}

export interface LocomoQuestion {
  id: string;
  conversation: string;
  question: string;
  category: number;
  /** Evidence turn ids that exist in the conversation. */
  evidence: string[];
}

export interface Locomo {
  turns: LocomoTurn[];
  questions: LocomoQuestion[];
  /** Evidence ids that named no turn of their conversation (malformed in the data). */
  unknownEvidence: number;
}

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

/** `1:56 pm on 8 May, 2023` → date `2023-05-08`, time `13:56`. */
export function sessionDate(text: string): { date: string; time: string } {
  const match = /^(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})/i.exec(text.trim());
  if (!match) throw new Error(`Unrecognised session date: ${text}`);
  const month = MONTHS.indexOf(match[5]!.toLowerCase()) + 1;
  if (month === 0) throw new Error(`Unrecognised month in: ${text}`);
  const hour = (Number(match[1]) % 12) + (match[3]!.toLowerCase() === 'pm' ? 12 : 0);
  return {
    date: `${match[6]}-${String(month).padStart(2, '0')}-${match[4]!.padStart(2, '0')}`,
    time: `${String(hour).padStart(2, '0')}:${match[2]}`,
  };
}

export async function readLocomo(file: string): Promise<Locomo> {
  const data = z.array(Conversation).parse(JSON.parse(await readFile(file, 'utf8')));
  const turns: LocomoTurn[] = [];
  const questions: LocomoQuestion[] = [];
  let unknownEvidence = 0;
  for (const sample of data) {
    const known = new Set<string>();
    for (const [key, value] of Object.entries(sample.conversation)) {
      const session = /^session_(\d+)$/.exec(key);
      if (!session) continue;
      const when = sessionDate(String(sample.conversation[`${key}_date_time`]));
      for (const turn of z.array(Turn).parse(value)) {
        known.add(turn.dia_id);
        turns.push({
          conversation: sample.sample_id,
          session: Number(session[1]),
          ...when,
          speaker: turn.speaker,
          diaId: turn.dia_id,
          text: turn.text,
          image: turn.blip_caption ?? null,
        });
      }
    }
    sample.qa.forEach((qa, index) => {
      // Some evidence entries hold several ids in one string ("D8:6; D9:17"), or a stray colon ("D:11:26").
      const ids = qa.evidence.flatMap((e) =>
        [...e.matchAll(/D:?(\d+):(\d+)/g)].map((m) => `D${m[1]}:${m[2]}`),
      );
      unknownEvidence += qa.evidence.filter((e) => !/D:?\d+:\d+/.test(e)).length;
      const evidence = ids.filter((id) => known.has(id));
      unknownEvidence += ids.length - evidence.length;
      questions.push({
        id: `${sample.sample_id}/${index}`,
        conversation: sample.sample_id,
        question: qa.question,
        category: qa.category,
        evidence,
      });
    });
  }
  return { turns, questions, unknownEvidence };
}
