/** wink-porter2-stemmer ships no type declarations: it exports one function. */
declare module 'wink-porter2-stemmer' {
  /** The Porter2 (English) stem of a lowercase word. */
  export default function stem(word: string): string;
}
