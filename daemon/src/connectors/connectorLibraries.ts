/**
 * The connectors' protocol libraries (librariesBundle.ts), loaded the first time a connector
 * needs one rather than with the process. Built, they come from dist/connectors.js next to the
 * bundle, started through the code cache as dist/lance.js is; from the sources (tests, tsx), from
 * node_modules. The build refuses any other way in to them (esbuild.mjs), so they cannot slip
 * back into the command's bundle.
 */
import { createRequire } from 'node:module';
import { runBundleBeside } from '../boot/codeCache';
import type * as Libraries from './librariesBundle';

/** The bundle of the libraries, next to the daemon's bundles (esbuild.mjs). */
const BUNDLE = 'connectors.js';

let loaded: typeof Libraries | null = null;

export function connectorLibraries(): typeof Libraries {
  loaded ??= runBundleBeside(BUNDLE, fromNodeModules);
  return loaded;
}

/** The same accessors over node_modules, for the sources. */
function fromNodeModules(): typeof Libraries {
  const load = createRequire(__filename);
  return {
    imapflow: () => load('imapflow') as ReturnType<typeof Libraries.imapflow>,
    mailparser: () => load('mailparser') as ReturnType<typeof Libraries.mailparser>,
    nodemailer: () => load('nodemailer') as ReturnType<typeof Libraries.nodemailer>,
    MailComposer: () => load('nodemailer/lib/mail-composer') as ReturnType<typeof Libraries.MailComposer>,
    Stripe: () => load('stripe') as ReturnType<typeof Libraries.Stripe>,
    tsdav: () => load('tsdav') as ReturnType<typeof Libraries.tsdav>,
  };
}
