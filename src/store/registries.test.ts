import { describe, expect, it } from 'vitest';
import { registryHostKey } from './registries.js';

describe('registryHostKey: one key for every way an image names its registry host', () => {
  it('takes Docker Hub by any of its names as docker.io', () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Registry-1.Docker.IO']) expect(registryHostKey(host)).toBe('docker.io');
  });

  it('drops the default port of the scheme, keeps any other', () => {
    expect(registryHostKey('registry.example.com:443')).toBe('registry.example.com');
    expect(registryHostKey('registry.example.com:80', 'http:')).toBe('registry.example.com');
    expect(registryHostKey('registry.example.com:80')).toBe('registry.example.com:80');
    expect(registryHostKey('127.0.0.1:5000', 'http:')).toBe('127.0.0.1:5000');
  });

  it('keeps hosts apart that are not the same registry', () => {
    expect(registryHostKey('docker.io.evil.example')).toBe('docker.io.evil.example');
    expect(registryHostKey('myacr.azurecr.io')).not.toBe(registryHostKey('otheracr.azurecr.io'));
  });
});
