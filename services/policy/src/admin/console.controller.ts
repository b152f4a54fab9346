import { Controller, Get, Param, Res } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ApiError } from '../common/api-error';
import { openApiDocument } from './openapi';

/** The console's files ship in the package (services/policy/console), read once. No CDN, no build step. */
const CONSOLE_DIR = join(__dirname, '..', '..', 'console');
// A Map, not an object literal: a lookup of "__proto__", "constructor" or "toString" must find nothing
// (an object would answer with Object.prototype's members, and the read of a missing file was a 500).
const FILES: ReadonlyMap<string, string> = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['app.js', 'text/javascript; charset=utf-8'],
  ['app.css', 'text/css; charset=utf-8'],
]);
const cache = new Map<string, Buffer>();

// Scripts and styles only from this origin: an injected string can never run as code.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

@Controller()
export class ConsoleController {
  @Get()
  root(@Res() res: ServerResponse): void {
    res.writeHead(302, { Location: '/console/' });
    res.end();
  }

  @Get('console')
  index(@Res() res: ServerResponse): void {
    this.file('index.html', res);
  }

  @Get('console/:file')
  asset(@Param('file') file: string, @Res() res: ServerResponse): void {
    this.file(file, res);
  }

  /** The OpenAPI 3.1 description of this API (public: it describes, it reveals no data). */
  @Get('v1/openapi.json')
  openapi(): Promise<unknown> {
    return openApiDocument();
  }

  private file(name: string, res: ServerResponse): void {
    const type = FILES.get(name);
    if (!type) throw new ApiError('not_found', 'no such file');
    let body = cache.get(name);
    if (!body) {
      body = readFileSync(join(CONSOLE_DIR, name));
      cache.set(name, body);
    }
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    res.end(body);
  }
}
