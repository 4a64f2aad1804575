import { GatewayEntity } from '#app/federation/gateway.entity.js';
import { PromptEntity } from '#app/prompts/prompt.entity.js';
import { ResourceEntity } from '#app/resources/resource.entity.js';
import { ServerEntity } from '#app/servers/server.entity.js';
import { ToolEntity } from '#app/tools/tool.entity.js';

/** Every entity the data source maps. Feature modules own their entities; this list only registers them. */
export const ENTITIES = [ToolEntity, ResourceEntity, PromptEntity, ServerEntity, GatewayEntity];
