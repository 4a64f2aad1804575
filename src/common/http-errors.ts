import { ConflictException, NotFoundException } from '@nestjs/common';

export const notFound = (kind: string, id: string): NotFoundException =>
  new NotFoundException({ statusCode: 404, error: 'Not Found', message: `${kind} ${JSON.stringify(id)} not found` });

export const conflict = (message: string, conflicts?: string[]): ConflictException =>
  new ConflictException({ statusCode: 409, error: 'Conflict', message, ...(conflicts ? { conflicts } : {}) });
