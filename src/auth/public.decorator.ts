import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'mcpgw:public';

/** Marks a route as open (the probes). Every other route requires auth. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
