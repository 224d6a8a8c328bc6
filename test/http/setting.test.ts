// `--http ADDR:PORT` and `--token`, as parsed (model/http.ts): pure logic.
import { describe, expect, it } from 'vitest';
import { isLoopback, parseHttpSetting } from '../../src/model/http.js';

describe('parseHttpSetting', () => {
  it('reads ADDR:PORT, [V6]:PORT and a lone PORT (loopback)', () => {
    expect(parseHttpSetting('127.0.0.1:9100', undefined)).toEqual({ host: '127.0.0.1', port: 9100, token: null });
    expect(parseHttpSetting('9100', undefined)).toEqual({ host: '127.0.0.1', port: 9100, token: null });
    expect(parseHttpSetting('[::1]:80', undefined)).toEqual({ host: '::1', port: 80, token: null });
    expect(parseHttpSetting('localhost:1', undefined).host).toBe('localhost');
    expect(parseHttpSetting('0.0.0.0:9100', 'tok')).toEqual({ host: '0.0.0.0', port: 9100, token: 'tok' });
  });

  it('refuses a non-loopback address without a token, saying what to do', () => {
    for (const spec of ['0.0.0.0:9100', '192.168.1.2:80', '[::]:80', 'example.com:80'])
      expect(() => parseHttpSetting(spec, undefined)).toThrow(/is not a loopback address.*--token/);
  });

  it('refuses bad ports and addresses, and empty, spaced or oversized tokens', () => {
    for (const spec of ['', ':80', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:http', '1:2:3', 'a b:80'])
      expect(() => parseHttpSetting(spec, undefined), spec).toThrow(/--http: expected ADDR:PORT/);
    for (const token of ['', 'a b', 'tab\there', 'x'.repeat(1025)]) expect(() => parseHttpSetting('80', token)).toThrow(/--token: expected/);
  });

  it('knows loopback when it sees it', () => {
    expect(['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'LOCALHOST'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.example.com'].some(isLoopback)).toBe(false);
  });
});
