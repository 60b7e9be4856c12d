/**
 * The words and names of the generated company. Function words take the top Zipf ranks (as in real
 * English), business words the middle, and seeded pseudo-words the long tail, so the full-text
 * index sees a few thousand distinct terms with realistic frequencies.
 */
import { Random, Zipf } from './random';

const FUNCTION_WORDS = `the of and to a in for is on that with as it by this be at from are we or
was will not but have an they which their has our you all can more if about after when would there
so been also its than into them only other some these could may should then what over new one two
per up out any each most such very before still both just because while during before where next`.split(
  /\s+/,
);

const BUSINESS_WORDS = `customer contract renewal invoice pricing discount budget forecast revenue
margin churn pipeline proposal quote order delivery shipment supplier vendor partner onboarding
support ticket escalation incident outage migration integration deployment release roadmap feature
backlog sprint milestone deadline estimate scope requirement specification review approval decision
meeting agenda minutes action owner follow call email workshop demo training feedback survey
meeting retention upsell expansion license subscription seat tier plan payment overdue reminder
terms clause liability warranty termination notice period amendment signature legal compliance
audit privacy security access password backup server database cloud hosting latency uptime report
dashboard metric target quarter month week year team hire candidate interview offer salary
contractor freelancer agency consultant accountant lawyer tax vat expense receipt travel conference
marketing campaign newsletter website blog content launch brand social lead prospect referral
trial conversion pricing bundle annual monthly usage limit quota capacity storage bandwidth
analytics warehouse logistics freight customs inventory stock warehouse fleet route driver
retail wholesale catalog product design prototype feedback iteration research interview insight
persona risk issue blocker dependency assumption constraint option tradeoff recommendation rollback
handover documentation runbook process checklist template policy guideline standard exception
priority urgent blocked done pending draft final signed sent received confirmed cancelled`.split(/\s+/);

const FIRST_NAMES = `Anna Ben Carla David Elena Frank Greta Hugo Ines Jonas Karin Lars Maria Nils
Olga Paul Rosa Sam Tara Ulrich Vera Walter Yusuf Zoe Amir Bianca Chen Dana Emil Fatima Gustav Hana
Ivan Julia Kofi Lena Marco Nadia Oscar Priya Quentin Ravi Sofia Tomas Uma Viktor Wen Xavier Yara`.split(
  /\s+/,
);

const LAST_NAMES = `Meyer Jansen Rossi Novak Silva Berg Kowalski Dubois Larsen Fischer Moreau
Hansen Costa Weber Schmidt Nguyen Okafor Haddad Ivanova Tanaka Lindqvist Brennan Varga Horvat
Keller Petrov Santos Olsen Richter Vogel Marsh Quinn Foster Ahmed Gallo Lopez Mendes Sato Kaur`.split(/\s+/);

const COMPANY_SUFFIXES = ['GmbH', 'Ltd', 'BV', 'Inc', 'Logistics', 'Labs', 'Retail', 'Group', 'Studio'];
const SYLLABLES = `ka ri to mo ne la vi su pe ro da fi gu ze ha no ly ta be ko mi ra te so lu ve
qua stra bel dor fen gar hil jor kel lam mar nor pol ras sel tor ung vor wel xan yel zor ar en in`.split(
  /\s+/,
);

export interface Vocabulary {
  /** Words by Zipf rank: index 0 is the most frequent. */
  words: string[];
  /** Words a query could use: neither function words nor so rare they never occur. */
  queryWords: string[];
  /** `the`, `of`, `and`...: what the full-text index drops as stop words. */
  functionWords: Set<string>;
  zipf: Zipf;
  people: string[];
  companies: string[];
  products: string[];
  tags: string[];
}

export function buildVocabulary(random: Random, size = 4_000): Vocabulary {
  const pseudo = pseudoWords(random, size - FUNCTION_WORDS.length - BUSINESS_WORDS.length);
  // Business words are spread through the middle ranks, pseudo-words fill the rest and the tail.
  const middle = [...BUSINESS_WORDS, ...pseudo.slice(0, BUSINESS_WORDS.length * 3)];
  const shuffled = random.sample(middle, middle.length);
  const words = unique([...FUNCTION_WORDS, ...shuffled, ...pseudo.slice(BUSINESS_WORDS.length * 3)]);
  const people = unique(
    Array.from({ length: 300 }, () => `${random.pick(FIRST_NAMES)} ${random.pick(LAST_NAMES)}`),
  );
  const companies = unique(
    Array.from({ length: 400 }, () => `${capitalize(pseudoWord(random))} ${random.pick(COMPANY_SUFFIXES)}`),
  );
  const products = unique(Array.from({ length: 40 }, () => capitalize(pseudoWord(random))));
  const tags = unique([...random.sample(BUSINESS_WORDS, 40), ...random.sample(pseudo, 20)]);
  return {
    words,
    queryWords: words.slice(FUNCTION_WORDS.length, 2_500),
    functionWords: new Set(FUNCTION_WORDS),
    zipf: new Zipf(words.length),
    people,
    companies,
    products,
    tags,
  };
}

function pseudoWords(random: Random, count: number): string[] {
  const taken = new Set([...FUNCTION_WORDS, ...BUSINESS_WORDS]);
  const out: string[] = [];
  while (out.length < count) {
    const word = pseudoWord(random);
    if (!taken.has(word)) {
      taken.add(word);
      out.push(word);
    }
  }
  return out;
}

function pseudoWord(random: Random): string {
  const syllables = random.int(2, 4);
  let word = '';
  for (let i = 0; i < syllables; i++) word += random.pick(SYLLABLES);
  return word;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

export function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
